/// Checks that a tree given as child arrays is a tree: every child index in range, every node
/// reached exactly once from the root (no cycle, no node shared by two parents, none unreachable
/// but those the format marks as deleted). A bad artifact must fail here, at registration, never by
/// looping or crashing on a request.
enum TreeShape {
    /// `children(node)` returns nil for a leaf, or its (left, right) children as raw indices.
    /// `unreachable`: how many nodes the file says it left in place deleted, and whether a node is
    /// marked so; exactly those may be unreached (the layout skips them).
    static func validate(tree: Int, nodeCount: Int, unreachable: (count: Double, allowed: (Int) -> Bool)? = nil,
                         children: (Int) -> (Int, Int)?) throws(ModelLoadError) {
        guard nodeCount > 0 else { throw ModelLoadError.invalidTree(tree: tree, reason: "has no nodes") }
        var seen = [Bool](repeating: false, count: nodeCount)
        var stack = [0]
        var visited = 0
        while let node = stack.popLast() {
            guard node >= 0 && node < nodeCount else {
                throw ModelLoadError.invalidTree(tree: tree, reason: "child index \(node) is outside the tree (\(nodeCount) nodes)")
            }
            guard !seen[node] else {
                throw ModelLoadError.invalidTree(tree: tree, reason: "node \(node) is reached twice (a cycle or a shared child)")
            }
            seen[node] = true
            visited += 1
            if let (left, right) = children(node) {
                stack.append(left)
                stack.append(right)
            }
        }
        if let unreachable, Double(nodeCount - visited) == unreachable.count,
           (0..<nodeCount).allSatisfy({ seen[$0] || unreachable.allowed($0) }) {
            return
        }
        guard visited == nodeCount else {
            throw ModelLoadError.invalidTree(tree: tree, reason: "\(nodeCount - visited) of \(nodeCount) nodes are unreachable from the root")
        }
    }

    /// The tree's nodes in breadth-first order, as old indices. Children are enqueued together, so
    /// in the new order every split's right child directly follows its left child. Call after
    /// `validate`, which guarantees every node is reached once.
    static func breadthFirstOrder(nodeCount: Int, children: (Int) -> (Int, Int)?) -> [Int] {
        var order = [0]
        order.reserveCapacity(nodeCount)
        var next = 0
        while next < order.count {
            if let (left, right) = children(order[next]) {
                order.append(left)
                order.append(right)
            }
            next += 1
        }
        return order
    }
}
