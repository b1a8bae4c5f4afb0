extension Registry {
    static let selectVersionRow = """
        SELECT v.id, v.stage FROM model_versions v JOIN models m ON m.id = v.model_id
        WHERE m.name = ?1 AND v.version = ?2
        """
    static let selectActiveRow = """
        SELECT v.id, v.version FROM model_versions v JOIN models m ON m.id = v.model_id
        WHERE m.name = ?1 AND v.stage = 'production'
        """
    static let setStage = "UPDATE model_versions SET stage = ?2 WHERE id = ?1"
    static let insertPromotion = """
        INSERT INTO promotions (model_id, from_version_id, to_version_id, action, promoted_at, promoted_by, reason)
        VALUES ((SELECT model_id FROM model_versions WHERE id = ?2), ?1, ?2, ?3, ?4, ?5, ?6)
        """
    static let selectPromotionChain = """
        SELECT p.action, t.version FROM promotions p JOIN model_versions t ON t.id = p.to_version_id
        JOIN models m ON m.id = p.model_id WHERE m.name = ?1 ORDER BY p.id
        """
    static let selectHistoryBase = """
        SELECT p.id, m.name, f.version, t.version, p.action, p.promoted_at, p.promoted_by, p.reason
        FROM promotions p
        JOIN models m              ON m.id = p.model_id
        JOIN model_versions t      ON t.id = p.to_version_id
        LEFT JOIN model_versions f ON f.id = p.from_version_id
        """
    static let selectHistory = selectHistoryBase + " ORDER BY p.id"
    static let selectModelHistory = selectHistoryBase + " WHERE m.name = ?1 ORDER BY p.id"
    static let selectLatestPromotionID = "SELECT coalesce(max(id), 0) FROM promotions"

    /// Makes `label` the active version of `model` (the only model when nil) and records why.
    ///
    /// Throws `.versionNotFound`, `.versionArchived`, `.alreadyActive`, and the model errors of
    /// `resolveModel`.
    @discardableResult
    public func promote(_ label: VersionLabel, model: String?, reason: String?, by actor: String) throws -> Promotion {
        let model = try resolveModel(model)
        return try write {
            try activate(label, model: model, action: .promote, reason: reason, by: actor)
        }
    }

    /// Returns `model` to the version that was active before the current one, undoing the latest
    /// promotion that has not been undone yet (so rolling back twice after v1 → v2 → v3 gives v1).
    ///
    /// Throws `.nothingToRollBack` when no earlier version was active, `.rollbackTargetArchived`
    /// when that version has since been archived. `beforeCommit` runs inside the transaction once the target
    /// is known: whatever it throws rolls the change back (the CLI stages its values file there).
    @discardableResult
    public func rollback(model: String?, reason: String?, by actor: String,
                         beforeCommit: (Promotion) throws -> Void = { _ in }) throws -> Promotion {
        let model = try resolveModel(model)
        return try write {
            // Replay the history as a stack: a promotion pushes its version, a rollback pops one.
            var stack: [Int] = []
            for (action, number) in try db.prepare(Self.selectPromotionChain).rows([model], { ($0.text(0), $0.int(1)) }) {
                if action == Promotion.Action.rollback.rawValue { _ = stack.popLast() } else { stack.append(number) }
            }
            guard stack.count >= 2 else { throw RegistryError.nothingToRollBack(model: model) }
            let target = VersionLabel(stack[stack.count - 2])
            let promotion: Promotion
            do {
                promotion = try activate(target, model: model, action: .rollback, reason: reason, by: actor)
            } catch RegistryError.versionArchived {
                // Not "cannot be promoted": the operator asked for a rollback.
                throw RegistryError.rollbackTargetArchived(model: model, version: target.description)
            }
            try beforeCommit(promotion)
            return promotion
        }
    }

    /// Retires `label` for good: it can no longer be promoted. Archiving an archived version changes
    /// nothing. Throws `.versionActive` for the active version.
    public func archive(_ label: VersionLabel, model: String?) throws {
        let model = try resolveModel(model)
        try write {
            guard let (id, stage) = try db.prepare(Self.selectVersionRow).firstRow([model, label.number], { ($0.int64(0), $0.text(1)) }) else {
                throw RegistryError.versionNotFound(model: model, version: label.description)
            }
            switch VersionStage(rawValue: stage) {
            case .production: throw RegistryError.versionActive(model: model, version: label.description)
            case .archived: return
            default: try db.run(Self.setStage, [id, VersionStage.archived.rawValue])
            }
        }
        logger.info("archived version", metadata: ["model.name": "\(model)", "model.version": "\(label)"])
    }

    /// The promotion history of `model`, or of every model when nil, oldest first.
    public func history(model: String?) throws -> [Promotion] {
        try read {
            if let model {
                _ = try resolveModel(model)
                return try db.prepare(Self.selectModelHistory).rows([model], Self.promotion)
            }
            return try db.prepare(Self.selectHistory).rows([], Self.promotion)
        }
    }

    /// The id of the newest promotion of any model: a cheap way to notice that something changed.
    public func latestPromotionID() throws -> Int64 {
        try read { Int64(try db.scalarInt(Self.selectLatestPromotionID) ?? 0) }
    }

    /// Inside a write transaction: swaps the active version and appends the history entry.
    private func activate(_ label: VersionLabel, model: String, action: Promotion.Action, reason: String?, by actor: String) throws -> Promotion {
        guard let (targetID, stage) = try db.prepare(Self.selectVersionRow).firstRow([model, label.number], { ($0.int64(0), $0.text(1)) }) else {
            throw RegistryError.versionNotFound(model: model, version: label.description)
        }
        switch VersionStage(rawValue: stage) {
        case .archived: throw RegistryError.versionArchived(model: model, version: label.description)
        case .production: throw RegistryError.alreadyActive(model: model, version: label.description)
        default: break
        }
        let current = try db.prepare(Self.selectActiveRow).firstRow([model]) { ($0.int64(0), $0.int(1)) }
        if let (currentID, _) = current {
            try db.run(Self.setStage, [currentID, VersionStage.registered.rawValue])
        }
        try db.run(Self.setStage, [targetID, VersionStage.production.rawValue])
        let now = Timestamp.now()
        try db.run(Self.insertPromotion, [current?.0, targetID, action.rawValue, now, actor, reason])
        logger.info("\(action.rawValue) applied", metadata: [
            "model.name": "\(model)", "model.version": "\(label)",
            "model.previous_version": "\(current.map { "v\($0.1)" } ?? "none")",
        ])
        return Promotion(id: db.lastInsertRowID, model: model, from: current.map { VersionLabel($0.1) }, to: label,
                         action: action, at: now, by: actor, reason: reason)
    }

    private static func promotion(_ row: Row) throws -> Promotion {
        Promotion(id: row.int64(0), model: row.text(1), from: row.optionalInt(2).map(VersionLabel.init),
                  to: VersionLabel(row.int(3)), action: Promotion.Action(rawValue: row.text(4)) ?? .promote,
                  at: row.text(5), by: row.text(6), reason: row.optionalText(7))
    }
}
