// swift-tools-version: 6.1
// Benchmarks for pararnn (ordo-one/benchmark). Run from this folder: `swift package benchmark`.
// Every hot path is measured beside its baseline in the same run (sequential loop, memory copy,
// direct convolution), so results read as ratios.
import Foundation
import PackageDescription

// SwiftPM names a path dependency after its folder, which is whatever the clone is called.
let pararnn = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().lastPathComponent

let benchmarkPlugin: [Target.PluginUsage] = [.plugin(name: "BenchmarkPlugin", package: "benchmark")]

let package = Package(
    name: "pararnn-benchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.0", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "ScanBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "ParallelScan", package: pararnn),
            ],
            path: "Benchmarks/ScanBenchmarks",
            plugins: benchmarkPlugin),
        .executableTarget(
            name: "NewtonBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "ParaRNN", package: pararnn),
                .product(name: "ParallelScan", package: pararnn),
                .product(name: "Training", package: pararnn),
            ],
            path: "Benchmarks/NewtonBenchmarks",
            plugins: benchmarkPlugin),
        .executableTarget(
            name: "LongConvBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "LongConv", package: pararnn),
                .product(name: "ParallelScan", package: pararnn),
            ],
            path: "Benchmarks/LongConvBenchmarks",
            plugins: benchmarkPlugin),
        .executableTarget(
            name: "PLSTMBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "PLSTM", package: pararnn),
                .product(name: "ParallelScan", package: pararnn),
            ],
            path: "Benchmarks/PLSTMBenchmarks",
            plugins: benchmarkPlugin),
        .executableTarget(
            name: "LinearRNNBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "LinearRNN", package: pararnn),
                .product(name: "ParallelScan", package: pararnn),
            ],
            path: "Benchmarks/LinearRNNBenchmarks",
            plugins: benchmarkPlugin),
    ]
)
