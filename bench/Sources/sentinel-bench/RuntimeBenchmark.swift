import Foundation
import ModelRuntime

/// Single-thread scoring of one model on a file of rows (row-major float64, NaN for missing).
struct RuntimeBenchmark {
    let artifact: String
    let format: ModelFormat
    let rowsPath: String
    let featureCount: Int

    init(arguments: [String]) throws {
        guard arguments.count == 4, let format = ModelFormat(rawValue: arguments[1]), let count = Int(arguments[3]) else {
            throw BenchError("usage: sentinel-bench runtime ARTIFACT FORMAT ROWS.f64 FEATURES")
        }
        artifact = arguments[0]
        self.format = format
        rowsPath = arguments[2]
        featureCount = count
    }

    func run() throws {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: artifact)))
        let rssBefore = residentBytes()
        let loadStart = now()
        let model = try ModelLoader.load(format, from: bytes)
        let loadSeconds = Double(now() - loadStart) / 1e9
        let rssAfter = residentBytes()
        guard model.featureNames.count == featureCount else { throw BenchError("model reads \(model.featureNames.count) features, rows have \(featureCount)") }

        let data = try Data(contentsOf: URL(fileURLWithPath: rowsPath))
        let values: [Double] = data.withUnsafeBytes { Array($0.bindMemory(to: Double.self)) }
        let rowCount = values.count / featureCount
        var scores = [Double](repeating: 0, count: rowCount)
        var checksum = 0.0

        // Batch: every row once, several passes, best pass reported (the machine is shared).
        var batchBest = UInt64.max
        for _ in 0..<5 {
            let start = now()
            values.withUnsafeBufferPointer { rows in
                scores.withUnsafeMutableBufferPointer { out in
                    model.score(rows: rows, rowCount: rowCount, into: out)
                }
            }
            batchBest = min(batchBest, now() - start)
            checksum += scores[rowCount / 2]
        }

        // Single rows: each call timed on its own.
        let calls = min(rowCount, 50_000)
        var latencies = [UInt64](repeating: 0, count: calls)
        values.withUnsafeBufferPointer { rows in
            for pass in 0..<2 {
                for index in 0..<calls {
                    let row = UnsafeBufferPointer(rebasing: rows[(index * featureCount)..<((index + 1) * featureCount)])
                    let start = now()
                    let score = model.score(row)
                    let elapsed = now() - start
                    if pass == 1 { latencies[index] = elapsed }
                    checksum += score
                }
            }
        }
        latencies.sort()
        let mean = Double(latencies.reduce(0, +)) / Double(calls)

        let result: [String: Any] = [
            "model": URL(fileURLWithPath: artifact).deletingLastPathComponent().lastPathComponent,
            "format": format.rawValue,
            "trees": model.treeCount,
            "rows": rowCount,
            "load_seconds": loadSeconds,
            "model_table_bytes": model.memoryFootprint,
            "rss_growth_bytes": max(0, rssAfter - rssBefore),
            "single_mean_ns": mean,
            "single_p50_ns": percentile(latencies, 0.5),
            "single_p99_ns": percentile(latencies, 0.99),
            "batch_rows_per_second": Double(rowCount) / (Double(batchBest) / 1e9),
            "scores_file": scoresPath(scores),
            "checksum": checksum,
        ]
        let json = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
        print(String(decoding: json, as: UTF8.self))
    }

    /// Writes the batch scores beside the rows so the driver can check them against the library.
    private func scoresPath(_ scores: [Double]) -> String {
        let path = rowsPath + ".\(format.rawValue).scores.f64"
        let data = scores.withUnsafeBufferPointer { Data(buffer: $0) }
        _ = FileManager.default.createFile(atPath: path, contents: data)
        return path
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
