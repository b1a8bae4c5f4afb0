/// Why an artifact was refused. Each message names the part of the artifact at fault.
public enum ModelLoadError: Error, CustomStringConvertible, Equatable, Sendable {
    /// Not parseable at all, or cut short.
    case malformed(String)
    /// A required key or line is absent.
    case missingField(String)
    /// Parseable, but something Sentinel cannot score exactly (booster, objective, tree kind...).
    case unsupported(String)
    /// A tree whose structure is broken: children out of range, a cycle, an unreachable node.
    case invalidTree(tree: Int, reason: String)
    /// A value that is NaN, infinite or out of its range.
    case invalidValue(String)

    public var description: String {
        switch self {
        case .malformed(let detail): return "malformed artifact: \(detail)"
        case .missingField(let field): return "missing \(field)"
        case .unsupported(let detail): return "unsupported: \(detail)"
        case .invalidTree(let tree, let reason): return "tree \(tree): \(reason)"
        case .invalidValue(let detail): return "invalid value: \(detail)"
        }
    }
}
