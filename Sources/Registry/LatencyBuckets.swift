/// The latency buckets of `latency_buckets` (migration 003): where each starts, in µs, ascending
/// from 0. A bucket runs up to the next one's start; the last is open-ended.
public struct LatencyBuckets: Sendable, Equatable {
    public let starts: [Int]

    init(starts: [Int]) throws(RegistryError) {
        guard starts.first == 0, zip(starts, starts.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw RegistryError.database("latency_buckets must start at 0 and ascend; it starts \(Array(starts.prefix(5)))")
        }
        self.starts = starts
    }

    public var count: Int { starts.count }

    /// The bucket a latency of `microseconds` falls in (a negative one counts as 0).
    public func index(of microseconds: Int) -> Int {
        var low = 0
        var high = starts.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if starts[middle] <= microseconds { low = middle } else { high = middle - 1 }
        }
        return low
    }

    /// Where bucket `index` ends (exclusive); nil for the last.
    public func end(ofBucket index: Int) -> Int? {
        index + 1 < starts.count ? starts[index + 1] : nil
    }
}

extension LatencyPercentiles {
    /// Estimated from how many latencies fell in each bucket (`counts`, one per bucket, not all
    /// zero): the bucket holding the nearest rank (the rule of the exact percentiles), and within it
    /// the middle of the rank's share of the bucket's width, as if the bucket's values were spread
    /// evenly (so evenly spread values get their exact percentiles back). Always inside the
    /// bucket of the exact value; the open-ended last bucket gives its start.
    public init(counts: [Int], buckets: LatencyBuckets) {
        let total = counts.reduce(0, +)
        func estimate(_ perMille: Int) -> Int {
            let rank = max(1, (perMille * total + 999) / 1_000)
            var below = 0
            for (index, count) in counts.enumerated() where count > 0 {
                if below + count >= rank {
                    let start = buckets.starts[index]
                    guard let end = buckets.end(ofBucket: index) else { return start }
                    let share = (Double(rank - below) - 0.5) / Double(count)
                    return start + Int(Double(end - start) * share)
                }
                below += count
            }
            return 0
        }
        self.init(p50: estimate(500), p95: estimate(950), p99: estimate(990))
    }
}
