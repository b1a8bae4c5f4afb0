import Crypto
import Foundation

/// The one way an artifact's sha256 is computed: at registration, and again before it serves.
public enum ArtifactDigest {
    /// Lower-case hex, as stored in `model_versions.artifact_sha256`.
    public static func sha256Hex(_ bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }

    /// Whether `text` is a digest as `sha256Hex` writes it: 64 lower-case hexadecimal digits.
    public static func isSHA256Hex(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "f")) }
    }
}
