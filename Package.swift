// swift-tools-version: 6.1
// pararnn — parallel-in-time evaluation and training of nonlinear RNNs on multicore CPUs.
import PackageDescription

let package = Package(
    name: "pararnn",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "ParallelScan", targets: ["ParallelScan"]),
        .library(name: "ParaRNN", targets: ["ParaRNN"]),
        .library(name: "ParaMPI", targets: ["ParaMPI"]),
        .library(name: "Training", targets: ["Training"]),
        .library(name: "SequenceIO", targets: ["SequenceIO"]),
        .library(name: "ModelIO", targets: ["ModelIO"]),
        .library(name: "PLSTM", targets: ["PLSTM"]),
        .library(name: "LongConv", targets: ["LongConv"]),
        .library(name: "LinearRNN", targets: ["LinearRNN"]),
        .library(name: "PerformanceSuite", targets: ["PerformanceSuite"]),
        .library(name: "ConvergenceHarness", targets: ["ConvergenceHarness"]),
        .executable(name: "pararnn", targets: ["pararnn"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-numerics", from: "1.0.0"),
        // `make docs`: the DocC catalogs (Sources/<Module>/<Module>.docc) as static HTML.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.4.0"),
    ],
    targets: [
        // System libraries (Debian: libopenblas-dev, liblapacke-dev, libfftw3-dev, libsndfile1-dev, libhdf5-dev).
        // OpenBLAS and LAPACKE are opened with dlopen on first use (Sources/CBLAS/shim.h): no link flags.
        .systemLibrary(
            name: "CBLAS", path: "Sources/CBLAS",
            providers: [.apt(["libopenblas-dev", "liblapacke-dev"])]),
        // FFTW and libsndfile are opened with dlopen on first use too (their shim.h): headers only.
        .systemLibrary(
            name: "CFFTW", path: "Sources/CFFTW",
            providers: [.apt(["libfftw3-dev"])]),
        .systemLibrary(
            name: "CSndfile", path: "Sources/CSndfile",
            providers: [.apt(["libsndfile1-dev"])]),
        .systemLibrary(
            name: "CHDF5", path: "Sources/CHDF5",  // headers only; libhdf5 is loaded with dlopen
            providers: [.apt(["libhdf5-dev"])]),

        .target(name: "CVectorMath"),
        // Open MPI (Debian: libopenmpi-dev, openmpi-bin), opened with dlopen on first use so
        // that pararnn neither links libmpi nor starts slower when not distributed.
        .target(name: "CMPI", linkerSettings: [.linkedLibrary("dl", .when(platforms: [.linux]))]),
        .target(name: "ParaMPI", dependencies: ["CMPI", "ParallelScan", "ParaRNN"]),
        .target(name: "ParallelScan", dependencies: ["CBLAS", "CVectorMath"]),
        .target(name: "ParaRNN", dependencies: ["ParallelScan", "CBLAS", "CVectorMath"]),
        .target(name: "Training", dependencies: ["ParaRNN", "ParallelScan"]),
        .target(name: "SequenceIO", dependencies: ["CSndfile", "CHDF5"]),
        .target(name: "ModelIO", dependencies: ["ParaRNN", "ParallelScan", "SequenceIO"]),
        .target(name: "PLSTM", dependencies: ["ParallelScan"]),
        .target(
            name: "LinearRNN",
            dependencies: ["ParallelScan", .product(name: "RealModule", package: "swift-numerics")]),
        .target(
            name: "LongConv",
            dependencies: [
                "ParallelScan", "CFFTW", "CBLAS",
                .product(name: "ComplexModule", package: "swift-numerics"),
            ]),
        .target(
            name: "PerformanceSuite",
            dependencies: ["ParallelScan", "ParaRNN", "Training", "PLSTM", "LongConv", "LinearRNN"]),
        .target(name: "ConvergenceHarness", dependencies: ["ParaRNN", "ParallelScan"]),
        .executableTarget(
            name: "pararnn",
            dependencies: [
                "ModelIO", "ParaRNN", "ParallelScan", "SequenceIO", "Training",
                "PerformanceSuite", "ConvergenceHarness", "ParaMPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        .testTarget(name: "SmokeTests", dependencies: ["CBLAS", "CFFTW"]),
        // Run under `mpirun -np R` by MPITests: distributed scans against one process.
        .executableTarget(
            name: "mpi-scan-check", dependencies: ["ParaMPI", "ParallelScan"], path: "Tests/MPIScanCheck"),
        .testTarget(name: "MPITests", dependencies: ["ParaMPI", "ParallelScan", "SequenceIO"]),
        .testTarget(name: "ParallelScanTests", dependencies: ["ParallelScan"]),
        .testTarget(name: "ParaRNNTests", dependencies: ["ParaRNN", "ParallelScan"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "ParaRNN", "ParallelScan"]),
        .testTarget(
            name: "SequenceIOTests", dependencies: ["SequenceIO", "CHDF5"], resources: [.copy("Fixtures")]),
        .testTarget(
            name: "ModelIOTests", dependencies: ["ModelIO", "ParaRNN", "ParallelScan", "SequenceIO", "Training"],
            resources: [.copy("Fixtures")]),
        .testTarget(name: "CLITests", dependencies: ["SequenceIO"]),
        .testTarget(name: "PLSTMTests", dependencies: ["PLSTM", "ParallelScan"]),
        .testTarget(name: "LongConvTests", dependencies: ["LongConv", "ParallelScan"]),
        .testTarget(name: "LinearRNNTests", dependencies: ["LinearRNN", "ParallelScan"]),
        .testTarget(name: "ConvergenceHarnessTests", dependencies: ["ConvergenceHarness", "ParaRNN"]),
    ]
)
