import ParallelScan

/// PyTorch's initialisation comes from ``DenseGateCell``.
extension LSTM: TrainableCell {}
