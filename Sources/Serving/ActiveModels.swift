import Foundation
import Registry
import Synchronization

/// The versions currently serving, one per model, swapped atomically by the reloader.
///
/// A request takes one snapshot at its start and scores with it to the end, so a promotion never
/// changes the version under a request in flight.
public final class ActiveModels: Sendable {
    /// What the service knows about one model's reloads, for /models and /readyz.
    public struct ReloadStatus: Sendable {
        public var lastReloadAt: Date?
        public var lastFailure: String?
        public var lastFailureAt: Date?
        public var failedVersion: VersionLabel?

        mutating func clearFailure() {
            lastFailure = nil
            lastFailureAt = nil
            failedVersion = nil
        }
    }

    public struct Snapshot: Sendable {
        public internal(set) var versions: [String: LoadedVersion]
        /// Models whose active version was refused here with none of theirs serving, with why: a
        /// request for one is told so (503), not that the model is unknown (404).
        var refused: [String: String]
        /// The reloader has gone through the registry once: before, a model not loaded may still
        /// be on its way (503), after, one neither loaded nor refused is unknown (404).
        var settled: Bool

        init(versions: [String: LoadedVersion], refused: [String: String] = [:], settled: Bool = false) {
            self.versions = versions
            self.refused = refused
            self.settled = settled
        }

        /// The version a request names, or the only active one when it names none.
        func resolve(_ name: String?) throws(APIError) -> LoadedVersion {
            if let name {
                if let loaded = versions[name] { return loaded }
                if let reason = refused[name] { throw Self.nothingServes(name, reason) }
                // The service listens while its first versions load: not ready yet, rather than a
                // model that does not exist (which, once settled, is a 404 for good).
                if !settled { throw Self.stillLoading }
                throw APIError(.unknownModel, "no active version of a model named '\(name)'")
            }
            // A refused model is active too: naming none is ambiguous once there are two. (A model
            // is in one of the two maps at most: installing it clears its refusal.)
            if versions.count + refused.count > 1 {
                let active = (Array(versions.keys) + refused.keys).sorted()
                throw APIError(.modelRequired, "several models are active (\(active.joined(separator: ", "))): name one in \"model\"")
            }
            if let (model, reason) = refused.first { throw Self.nothingServes(model, reason) }
            // Before the first pass, a second model may still be on its way.
            guard settled else { throw Self.stillLoading }
            if let loaded = versions.first?.value { return loaded }
            throw APIError(.noActiveVersion, "no model has an active version (promote one with registry-cli promote)")
        }

        private static let stillLoading = APIError(.noActiveVersion, "the active versions are still loading")

        private static func nothingServes(_ model: String, _ reason: String) -> APIError {
            APIError(.noActiveVersion, "\(model)'s active version was refused here and no other serves: \(reason)")
        }
    }

    private let state: Mutex<(snapshot: Snapshot, status: [String: ReloadStatus], databaseCheckedAt: Date?, loading: Bool,
                              desiredPending: Bool)>

    /// `awaitingDesiredVersions`: a desired-versions file is applied at start, and the pod is not
    /// ready before its first pass and the reloader's pass after it (the versions it pins may not
    /// be active yet when the reloader first goes through the registry).
    public init(awaitingDesiredVersions: Bool = false) {
        state = Mutex((Snapshot(versions: [:]), [:], nil, false, awaitingDesiredVersions))
    }

    public func snapshot() -> Snapshot { state.withLock { $0.snapshot } }

    public func status() -> [String: ReloadStatus] { state.withLock { $0.status } }

    func install(_ loaded: LoadedVersion) {
        state.withLock { state in
            state.snapshot.versions[loaded.version.model] = loaded
            state.snapshot.refused[loaded.version.model] = nil
            state.status[loaded.version.model, default: ReloadStatus()].lastReloadAt = Date()
            state.status[loaded.version.model]?.clearFailure()
        }
    }

    /// The registry's active version of `model` is the one serving: a refusal recorded earlier is
    /// history now, not a state to show (`/models`, the status page).
    func clearFailure(model: String) {
        state.withLock { $0.status[model]?.clearFailure() }
    }

    /// The model serves nothing now, and what was refused of it is history.
    func remove(model: String) {
        state.withLock { state in
            state.snapshot.versions[model] = nil
            state.snapshot.refused[model] = nil
            state.status[model]?.clearFailure()
        }
    }

    func recordFailure(model: String, version: VersionLabel, reason: String) {
        record(model: model, refusal: "\(version): \(reason)", reason: reason, version: version)
    }

    /// The registry could not be read for `model` (an I/O error, a row it cannot decode): while
    /// nothing of it serves, a request for it is told so (503), not that it is unknown.
    func recordReadFailure(model: String, reason: String) {
        record(model: model, refusal: "its registry rows could not be read: \(reason)", reason: reason, version: nil)
    }

    /// `refusal` answers requests for `model` while none of its versions serves. The same failure
    /// said again (another poll, the version made active again) keeps the time it was first made.
    private func record(model: String, refusal: String, reason: String, version: VersionLabel?) {
        state.withLock { state in
            if state.snapshot.versions[model] == nil { state.snapshot.refused[model] = refusal }
            let status = state.status[model, default: ReloadStatus()]
            guard status.failedVersion != version || status.lastFailure != reason else { return }
            state.status[model] = ReloadStatus(lastReloadAt: status.lastReloadAt, lastFailure: reason, lastFailureAt: Date(),
                                               failedVersion: version)
        }
    }

    /// The reloader has brought every model in line with the registry once.
    func markSettled() {
        state.withLock { $0.snapshot.settled = true }
    }

    /// The desired-versions applier has been through its file once (whether or not it could apply
    /// it): what it promoted is loaded at the reloader's next pass, which settles the models again.
    func desiredVersionsPassed() {
        state.withLock { state in
            guard state.desiredPending else { return }
            state.desiredPending = false
            state.snapshot.settled = false
        }
    }

    /// The registry answered. (A check that failed leaves the last success as it was: one failed
    /// poll, a file replaced and put back say, does not make the service unready by itself; the
    /// registry not answering for `freshness` seconds does.)
    func recordDatabaseCheck() {
        state.withLock { $0.databaseCheckedAt = Date() }
    }

    /// A version is being loaded and self-tested, between two registry reads: the registry's last
    /// answer stays fresh meanwhile, however long a large model takes.
    func recordLoading(_ loading: Bool) {
        state.withLock { state in
            state.loading = loading
            if !loading { state.databaseCheckedAt = Date() }
        }
    }

    /// Ready: the reloader has gone through every model once (a pod whose second model is still
    /// loading would get that model's traffic and answer 503), at least one version loaded, and the
    /// database answered within `freshness` seconds (or a load it gave is under way).
    public func isReady(freshness: TimeInterval) -> Bool {
        state.withLock { state in
            guard !state.desiredPending, state.snapshot.settled, !state.snapshot.versions.isEmpty,
                  let checked = state.databaseCheckedAt else { return false }
            return state.loading || Date().timeIntervalSince(checked) <= freshness
        }
    }
}
