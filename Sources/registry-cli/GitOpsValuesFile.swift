import Foundation
import Registry
import Yams

/// A Helm values file whose `model.version` pins the version every replica serves, and
/// `model.sha256` the artifact that version must be. Committing the rewritten file is what ArgoCD
/// rolls out (see docs/deploy.md).
///
/// The rewrite is by line, not by re-emitting the YAML, so that comments, key order, quoting and
/// blank lines stay exactly as people wrote them; Yams then checks that the result parses to the
/// same document with only `model.version` and `model.sha256` changed (the latter added, after
/// the version line, to a file that has none).
struct GitOpsValuesFile {
    let path: String
    private let text: String

    init(path: String) throws(GitOpsError) {
        self.path = path
        guard let data = FileManager.default.contents(atPath: path) else { throw .unreadable(path: path) }
        text = String(decoding: data, as: UTF8.self)
    }

    /// The version the file pins now (`model.version`), if it parses to one (YAML's null pins none).
    var pinnedVersion: String? { pinned("version") }

    /// The artifact digest the file pins now (`model.sha256`), if any.
    var pinnedSHA256: String? { pinned("sha256") }

    private func pinned(_ key: String) -> String? {
        (try? Yams.compose(yaml: text))?.mapping?["model"]?.mapping?[key]?.string.flatMap { Self.isNull($0) ? nil : $0 }
    }

    /// YAML's null as a plain scalar: empty, `~` or `null`.
    private static func isNull(_ value: String) -> Bool {
        ["", "~", "null", "Null", "NULL"].contains(value)
    }

    /// The file with `model.version` set to `version` and `model.sha256` to `sha256` (its
    /// artifact's digest), checked; `model.name`, when present, must be `model`.
    func pinning(_ version: VersionLabel, sha256: String, model: String) throws(GitOpsError) -> String {
        // By scalar: in a CRLF file "\r\n" is one Character, which neither split(separator: "\n")
        // nor components(separatedBy:) cuts, so the file read as one line with no `model:`.
        // Each line keeps its "\r", which the patterns allow.
        var lines = text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let block = lines.firstIndex(where: { $0.range(of: #"^model:\s*(#.*)?\r?$"#, options: .regularExpression) != nil }) else {
            throw .noPin(path: path)
        }
        var childIndent: Int?
        var versionLine: Int?
        var digestLine: Int?
        for index in lines.indices.dropFirst(block + 1) {
            let line = lines[index]
            let content = line.drop(while: { $0 == " " })
            if content.isEmpty || content.hasPrefix("#") || content == "\r" { continue }
            let indent = line.count - content.count
            if indent == 0 { break }
            if childIndent == nil { childIndent = indent }
            guard indent == childIndent else { continue }
            // `name:` left empty (YAML's null) names no model.
            if let name = Self.scalar(of: "name", in: line), !Self.isNull(name), name != model {
                throw .otherModel(path: path, pinned: name, requested: model)
            }
            if Self.scalar(of: "version", in: line) != nil { versionLine = index }
            if Self.scalar(of: "sha256", in: line) != nil { digestLine = index }
        }
        guard let versionLine else { throw .noPin(path: path) }
        lines[versionLine] = Self.replacingScalar(in: lines[versionLine], with: version.description)
        if let digestLine {
            lines[digestLine] = Self.replacingScalar(in: lines[digestLine], with: sha256)
        } else {
            let indent = lines[versionLine].prefix(while: { $0 == " " })
            let ending = lines[versionLine].hasSuffix("\r") ? "\r" : ""
            // Quoted: a digest of digits and one `e` would otherwise read as a number.
            lines.insert(indent + "sha256: \"" + sha256 + "\"" + ending, at: versionLine + 1)
        }
        let result = lines.joined(separator: "\n")
        try check(result, pins: version, sha256: sha256)
        return result
    }

    /// The file pinning `version` of `model` with its artifact's digest as `registry` holds it,
    /// staged (see `stage`).
    func staging(_ version: VersionLabel, of model: String, in registry: Registry) throws -> StagedValuesFile {
        let sha256 = try registry.version(version, model: model).artifactSHA256
        return try stage(pinning(version, sha256: sha256, model: model))
    }

    /// Writes `contents` beside the file, to be renamed over it by `commit`: the slow, failure-prone
    /// part happens before the registry changes, and a reader never sees half a file. It is on disk
    /// before the rename, so that a power loss after it cannot leave the pin empty.
    /// A symlink is followed (renaming over it would replace the link with a copy), and the new
    /// file gets the old one's permissions.
    func stage(_ contents: String) throws(GitOpsError) -> StagedValuesFile {
        let target = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        let permissions = ((try? FileManager.default.attributesOfItem(atPath: target))?[.posixPermissions] as? NSNumber)?.uint16Value ?? 0o644
        let staged = StagedValuesFile(path: target, temporary: target + ".sentinel-tmp")
        // A leftover temporary file (or a link planted there) is replaced, never written through.
        staged.discard()
        let descriptor = open(staged.temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode_t(permissions))
        guard descriptor >= 0 else { throw .unwritable(path: path, reason: "cannot create \(staged.temporary): \(String(cString: strerror(errno)))") }
        let file = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        do {
            // open(2) applies the umask; the file is to have the old one's permissions exactly.
            guard fchmod(descriptor, mode_t(permissions)) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
            try file.write(contentsOf: Data(contents.utf8))
            try file.synchronize()
            try file.close()
        } catch {
            staged.discard()
            throw .unwritable(path: path, reason: "cannot write \(staged.temporary): \((error as NSError).localizedDescription)")
        }
        return staged
    }

    /// The result must parse to the original document with only `model.version` and `model.sha256`
    /// changed (a new `sha256` key right after `version`).
    private func check(_ result: String, pins version: VersionLabel, sha256: String) throws(GitOpsError) {
        do {
            guard var root = try Yams.compose(yaml: text)?.mapping, var model = root["model"]?.mapping,
                  let versionIndex = model.index(forKey: Node("version")) else {
                throw GitOpsError.noPin(path: path)
            }
            model["version"] = Node(version.description)
            if model["sha256"] != nil {
                model["sha256"] = Node(sha256)
            } else {
                var pairs = model.map { ($0.key, $0.value) }
                pairs.insert((Node("sha256"), Node(sha256)), at: versionIndex + 1)
                model = Node.Mapping(pairs, model.tag, model.style)
            }
            root["model"] = .mapping(model)
            // A result Yams refuses (a second `sha256` key beside one the line scan could not read:
            // quoted, anchored, tagged) is the rewrite's fault, not the file's.
            guard (try? Yams.compose(yaml: result)) == .mapping(root) else {
                throw GitOpsError.rewriteUnsafe(path: path)
            }
        } catch let error as GitOpsError {
            throw error
        } catch {
            // One line on stderr: the YAML parser's message spans several.
            let reason = "\(error)".split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
            throw .notYAML(path: path, reason: reason)
        }
    }

    /// The plain or quoted scalar of `key: value  # comment` on this line, if the line is that key.
    private static func scalar(of key: String, in line: String) -> String? {
        guard let match = line.range(of: #"^\s+"# + key + #":\s*(["']?)([^"'#\s]*)\1\s*(#.*)?\r?$"#, options: .regularExpression) else {
            return nil
        }
        // Not omitting empty pieces: `version:` with nothing after it has an empty value, not none.
        let value = line[match].split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)[1]
            .split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return value.trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
    }

    /// The line with its value replaced, keeping its indentation, quotes and trailing comment.
    private static func replacingScalar(in line: String, with value: String) -> String {
        let colon = line.firstIndex(of: ":")!
        let rest = line[line.index(after: colon)...]
        let leading = rest.prefix(while: { $0 == " " || $0 == "\t" })
        let afterSpace = rest.dropFirst(leading.count)
        let quote = afterSpace.first.flatMap { $0 == "\"" || $0 == "'" ? String($0) : nil } ?? ""
        let body = afterSpace.dropFirst(quote.count)
        let end = quote.isEmpty ? body.firstIndex(where: { $0 == " " || $0 == "\t" || $0 == "#" || $0 == "\r" }) ?? body.endIndex
                                : body.firstIndex(of: Character(quote)).map { body.index(after: $0) } ?? body.endIndex
        if quote.isEmpty && end == body.startIndex {
            // No value yet (`version:`, maybe with a comment): YAML needs a space after the colon,
            // and one before a comment, or the `#` would be part of the value.
            let comment = afterSpace.hasPrefix("#") ? " " + afterSpace : String(afterSpace)
            return String(line[...colon]) + " " + value + comment
        }
        return String(line[...colon]) + leading + quote + value + quote + String(line[end...])
    }
}

/// An exclusive lock on the directory of a values file, held while a promote or rollback reads,
/// rewrites and replaces the file, so that two at once on one file (two people, two scripts) take
/// turns. Without it both staged from the same text in one staging file, and one reported a pin
/// the file did not hold while the other failed after changing the registry.
final class ValuesFileLock {
    private let descriptor: Int32

    /// Waits for the lock. A directory that cannot be locked (a network file system without
    /// `flock`) is not locked: the rename still keeps each write whole.
    init(path: String) throws(GitOpsError) {
        let directory = URL(fileURLWithPath: path).resolvingSymlinksInPath().deletingLastPathComponent().path
        descriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .unreadable(path: path) }
        while flock(descriptor, LOCK_EX) != 0 && errno == EINTR {}
    }

    /// Closing the descriptor releases the lock.
    deinit { close(descriptor) }
}

/// A rewritten values file waiting beside the original.
struct StagedValuesFile {
    let path: String
    let temporary: String

    /// Renames the staged file over the original, once the registry has changed: `active` (the
    /// model and version now active) is for the message should that fail.
    func commit(active: String) throws(GitOpsError) {
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            discard()
            throw .notPinned(path: path, reason: reason, active: active)
        }
        // The rename itself is on disk once its directory is.
        let directory = open((path as NSString).deletingLastPathComponent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directory >= 0 {
            fsync(directory)
            close(directory)
        }
    }

    func discard() {
        unlink(temporary)
    }
}

enum GitOpsError: Error, CustomStringConvertible {
    case unreadable(path: String)
    case noPin(path: String)
    case otherModel(path: String, pinned: String, requested: String)
    case notYAML(path: String, reason: String)
    case rewriteUnsafe(path: String)
    case unwritable(path: String, reason: String)
    /// The registry changed, then the file could not be replaced.
    case notPinned(path: String, reason: String, active: String)
    case pinNotActive(path: String, pinned: String, model: String, active: String)

    var description: String {
        switch self {
        case .unreadable(let path): "values file \(path) does not exist or cannot be read"
        case .noPin(let path): "values file \(path) has no top-level 'model:' block with a 'version:' line to pin"
        case .otherModel(let path, let pinned, let requested): "values file \(path) pins model '\(pinned)', not '\(requested)'"
        case .notYAML(let path, let reason): "values file \(path) is not valid YAML: \(reason)"
        case .rewriteUnsafe(let path): "values file \(path): rewriting model.version and model.sha256 would change more than those keys; edit it by hand"
        case .unwritable(let path, let reason): "values file \(path) cannot be written: \(reason)"
        case .notPinned(let path, let reason, let active):
            "\(active) is active in the registry, but values file \(path) could not be replaced (\(reason)): set its model.version and model.sha256 by hand"
        case .pinNotActive(let path, let pinned, let model, let active):
            "values file \(path) pins \(pinned) but \(model)'s active version in this registry is \(active): roll back with the registry that made that pin, or promote the version you want"
        }
    }
}
