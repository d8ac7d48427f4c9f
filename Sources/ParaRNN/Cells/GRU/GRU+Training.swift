import ParallelScan

/// PyTorch's initialisation comes from ``DenseGateCell``.
extension GRU: TrainableCell {}
