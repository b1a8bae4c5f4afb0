/// Finds a feature's position from the raw bytes of its name in a request, without making a
/// String: an FNV-1a hash picks the candidate, a byte comparison confirms it.
public struct FeatureIndex: Sendable {
    private let names: [[UInt8]]
    private let positions: [UInt64: Int]
    /// Set when two names share a hash (never seen in practice); lookups then go by String.
    private let byName: [String: Int]?

    public init(featureNames: [String]) {
        names = featureNames.map { Array($0.utf8) }
        var positions: [UInt64: Int] = [:]
        var collided = false
        for (position, name) in names.enumerated() {
            let hash = Self.hash(name.withUnsafeBufferPointer { UnsafeRawBufferPointer($0) })
            if positions.updateValue(position, forKey: hash) != nil { collided = true }
        }
        self.positions = positions
        byName = collided ? Dictionary(uniqueKeysWithValues: featureNames.enumerated().map { ($1, $0) }) : nil
    }

    /// The position of the feature whose UTF-8 name is `bytes`, or nil if the model has none.
    @inline(__always)
    public func position(of bytes: UnsafeRawBufferPointer) -> Int? {
        if let byName { return byName[String(decoding: bytes, as: UTF8.self)] }
        guard let position = positions[Self.hash(bytes)] else { return nil }
        let name = names[position]
        guard name.count == bytes.count else { return nil }
        return name.withUnsafeBytes { $0.elementsEqual(bytes) } ? position : nil
    }

    public func position(of name: String) -> Int? {
        var name = name
        return name.withUTF8 { position(of: UnsafeRawBufferPointer($0)) }
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
