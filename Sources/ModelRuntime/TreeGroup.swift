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

    /// Walks the eight trees side by side with `step` (one split, branchless, a leaf returning
    /// itself) and calls `leaf` with each real lane's leaf index, in tree order.
    @inline(__always)
    func walk(_ step: (UInt32) -> UInt32, leaf: (UInt32) -> Void) {
        // Eight named lanes stay in registers (a SIMD vector written one lane at a time would stall
        // on every step).
        var (l0, l1, l2, l3) = (roots[0], roots[1], roots[2], roots[3])
        var (l4, l5, l6, l7) = (roots[4], roots[5], roots[6], roots[7])
        // At most the group's depth in steps; stop early once every lane has reached its leaf (no
        // lane moved), which matters for deep, uneven trees.
        for _ in 0..<depth {
            let (n0, n1, n2, n3) = (step(l0), step(l1), step(l2), step(l3))
            let (n4, n5, n6, n7) = (step(l4), step(l5), step(l6), step(l7))
            let moved = (n0 ^ l0) | (n1 ^ l1) | (n2 ^ l2) | (n3 ^ l3) | (n4 ^ l4) | (n5 ^ l5) | (n6 ^ l6) | (n7 ^ l7)
            (l0, l1, l2, l3, l4, l5, l6, l7) = (n0, n1, n2, n3, n4, n5, n6, n7)
            if moved == 0 { break }
        }
        withUnsafeBytes(of: (l0, l1, l2, l3, l4, l5, l6, l7)) { raw in
            let lanes = raw.bindMemory(to: UInt32.self)
            for lane in 0..<count { leaf(lanes[lane]) }
        }
    }
}
