import Crypto
import Foundation

/// The one way an artifact's sha256 is computed: at registration, and again before it serves.
public enum ArtifactDigest {
    /// Lower-case hex, as stored in `model_versions.artifact_sha256`.
    public static func sha256Hex(_ bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }
}
