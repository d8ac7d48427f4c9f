extension DenseRecurrence {
    /// PyTorch's tensors: `weight_ih` `[G·d, m]`, `weight_hh` `[G·d, d]`, `bias_ih`, `bias_hh` `[G·d]`.
    var pytorchTensors: [String: ParameterTensor] {
        let gd = gateCount * hiddenSize
        return [
            "weight_ih": ParameterTensor(shape: [gd, inputSize], inputWeights),
            "weight_hh": ParameterTensor(shape: [gd, hiddenSize], recurrentWeights),
            "bias_ih": ParameterTensor(shape: [gd], inputBias),
            "bias_hh": ParameterTensor(shape: [gd], recurrentBias),
        ]
    }
}
