/// Eight trees walked side by side.
///
/// One tree walk is a chain of dependent loads and compares, so a CPU running one chain at a time
/// waits on each step. Eight independent chains in lockstep keep it busy. Every step is branchless
/// (a leaf points at itself, so it stays put), which also removes the mispredicted branch per split
/// that dominates a naive walk. A group takes as many steps as its deepest tree.
struct TreeGroup: Sendable {
    static let width = 8

    var roots: SIMD8<UInt32>
    /// How many of the eight lanes hold real trees (the last group may be short; the rest point at
    /// a padding leaf and are not added).
    var count: Int
    var depth: Int

    /// Groups `roots` in order, eight at a time, padding the last group with `padding`.
    static func make(roots: [UInt32], depths: [Int], padding: UInt32) -> [TreeGroup] {
        var groups: [TreeGroup] = []
        var start = 0
        while start < roots.count {
            let end = min(start + width, roots.count)
            var lanes = SIMD8<UInt32>(repeating: padding)
            for lane in 0..<(end - start) { lanes[lane] = roots[start + lane] }
            groups.append(TreeGroup(roots: lanes, count: end - start, depth: depths[start..<end].max() ?? 0))
            start = end
        }
        return groups
    }
}
