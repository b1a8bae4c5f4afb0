#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Finds a feature's position from the raw bytes of its name in a request, without making a
/// String. Clients nearly always send the features in one order, mostly the model's: the caller's
/// guess (the position after the previous feature's) is checked first with one `memcmp`; otherwise
/// an FNV-1a hash picks the candidate and a byte comparison confirms it.
public struct FeatureIndex: Sendable {
    /// Every name's UTF-8 bytes, one after another; name `i` is `bytes[starts[i]..<starts[i + 1]]`.
    private let bytes: [UInt8]
    private let starts: [Int]
    private let positions: [UInt64: Int]
    /// Set when two names share a hash (never seen in practice); lookups then go by String.
    private let byName: [String: Int]?

    public init(featureNames: [String]) {
        var bytes: [UInt8] = []
        var starts = [0]
        for name in featureNames {
            bytes.append(contentsOf: name.utf8)
            starts.append(bytes.count)
        }
        self.bytes = bytes
        self.starts = starts
        var positions: [UInt64: Int] = [:]
        var collided = false
        for (position, name) in featureNames.enumerated() {
            var name = name
            let hash = name.withUTF8 { Self.hash(UnsafeRawBufferPointer($0)) }
            if positions.updateValue(position, forKey: hash) != nil { collided = true }
        }
        self.positions = positions
        byName = collided ? Dictionary(uniqueKeysWithValues: featureNames.enumerated().map { ($1, $0) }) : nil
    }

    public var count: Int { starts.count - 1 }

    /// The position of the feature whose UTF-8 name is `name`, or nil if the model has none.
    /// `expected`, when in range, is tried first.
    @inline(__always)
    public func position(of name: UnsafeRawBufferPointer, expected: Int = -1) -> Int? {
        if expected >= 0, expected < count, matches(name, at: expected) { return expected }
        if let byName { return byName[String(decoding: name, as: UTF8.self)] }
        guard let position = positions[Self.hash(name)], matches(name, at: position) else { return nil }
        return position
    }

    public func position(of name: String, expected: Int = -1) -> Int? {
        var name = name
        return name.withUTF8 { position(of: UnsafeRawBufferPointer($0), expected: expected) }
    }

    @inline(__always)
    private func matches(_ name: UnsafeRawBufferPointer, at position: Int) -> Bool {
        let start = starts[position]
        let length = starts[position + 1] - start
        guard length == name.count else { return false }
        if length == 0 { return true }
        return bytes.withUnsafeBytes { memcmp($0.baseAddress! + start, name.baseAddress!, length) == 0 }
    }

    @inline(__always)
    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return hash
    }
}
