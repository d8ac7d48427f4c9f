import ArgumentParser
import Foundation
import SequenceIO

/// What `fit` trains on: one recording (its end held out), or several recordings.
enum FitSource {
    /// One recording `[T][m]` (raw values); the last --validation-fraction is held out.
    /// `targets`: with `--targets`, the columns to predict instead of the features.
    case one(raw: [Double], steps: Int, targets: Fit.Targets?)
    /// Training and validation recordings (raw values, each `[T_i][m]`), and the summary line.
    case several(training: [[Double]], validation: [[Double]], line: String)
}

extension Fit {
    /// Several `--input` values, a folder, or `--validation-files`.
    var severalRecordings: Bool {
        inputs.count > 1 || RecordingList.isDirectory(inputs[0]) || validationFiles != nil
    }

    /// Reads every recording ([T, m], one m for all) and splits them: with
    /// `--validation-files`, those recordings whole are the validation set and the others the
    /// training set; otherwise the last --validation-fraction of each recording is held out.
    func fitSeveral(_ guard_: OutputGuard) throws {
        let files: [URL]
        do { files = try RecordingList.files(inputs) } catch {
            throw Failure(message: "error: \(error.message)", code: 1)
        }
        var recordings: [[Double]] = []
        var m = 0
        for url in files {
            let tensor: Tensor
            do { tensor = try table.read(url) } catch { throw Failure(message: "error: \(error.description)", code: 1) }
            let name = url.lastPathComponent
            guard tensor.shape.count == 2 else {
                throw Failure(
                    message: "error: \(name): fit needs recordings [T, m]; got shape \(tensor.shape)", code: 1)
            }
            if m == 0 { m = tensor.shape[1] }
            if tensor.shape[1] != m {
                throw Failure(
                    message:
                        "error: \(name): \(tensor.shape[1]) features, but \(files[0].lastPathComponent) has \(m); every recording needs the same m",
                    code: 1)
            }
            recordings.append(tensor.asDouble())
        }
        let names = files.map(\.lastPathComponent)
        var training: [[Double]] = []
        var validation: [[Double]] = []
        let line: String
        if let validationFiles {
            let held = validationFiles.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
            var heldIndices = Set<Int>()
            for name in held {
                let matches = files.indices.filter {
                    files[$0].lastPathComponent == name || PathChecks.sameFile(files[$0].path, name)
                }
                guard let index = matches.first else {
                    throw Failure(
                        message:
                            "error: --validation-files: \(name) is none of the input recordings (\(names.joined(separator: ", ")))",
                        code: 1)
                }
                heldIndices.insert(index)
            }
            if heldIndices.count == files.count {
                throw Failure(
                    message: "error: --validation-files holds out every recording; none is left to train on", code: 1)
            }
            for (i, r) in recordings.enumerated() {
                if heldIndices.contains(i) { validation.append(r) } else { training.append(r) }
            }
            let steps = { (rs: [[Double]]) in rs.reduce(0) { $0 + $1.count / m } }
            line =
                "\(files.count) recordings, m = \(m); training \(training.count) (\(steps(training)) steps), validating \(validation.count) whole (\(steps(validation)) steps: \(heldIndices.sorted().map { names[$0] }.joined(separator: ", ")))"
        } else {
            for (r, name) in zip(recordings, names) {
                let t = r.count / m
                let split = Int(Double(t) * (1 - validationFraction))
                if split < 2 || t - split < 2 {
                    throw Failure(
                        message:
                            "error: \(name): \(t) steps are too few to train on and hold out \(validationFraction) of",
                        code: 1)
                }
                training.append(Array(r[0..<(split * m)]))
                validation.append(Array(r[(split * m)...]))
            }
            let trainingSteps = training.reduce(0) { $0 + $1.count / m }
            let validationSteps = validation.reduce(0) { $0 + $1.count / m }
            line =
                "\(files.count) recordings, m = \(m); training \(trainingSteps) steps, validating the last \(validationFraction) of each (\(validationSteps) steps)"
        }
        if let short = validation.firstIndex(where: { $0.count / m < 2 }) {
            _ = short
            throw Failure(message: "error: a validation recording has fewer than 2 steps", code: 1)
        }
        try dispatch(.several(training: training, validation: validation, line: line), m, guard_)
    }
}
