import ModelRuntime

/// A parsed `POST /predict` body: one transaction or a batch, each already a feature row in the
/// order the chosen model reads them.
public struct PredictRequest: Sendable {
    public let model: LoadedVersion
    public let requestID: String?
    /// One row for a single prediction, one per instance for a batch.
    public let rows: [[Double]]
    /// Where each row's values lie in the body, in the model's order (see `ValueSpan`).
    public let spans: [[ValueSpan]]
    public let isBatch: Bool
}

/// Where one feature's value lies in the request body: the audit log keeps the number as the client
/// wrote it, copied from the body (`FeatureJSON.object(body:spans:)`). An empty span is a `null`.
public struct ValueSpan: Sendable, Equatable {
    public var start: Int
    public var count: Int

    public static let null = ValueSpan(start: 0, count: 0)
}

/// Reads a `/predict` body in one pass, straight into feature rows: no general-purpose JSON decode,
/// no dictionary of features, no String per feature name (see `FeatureIndex`).
///
///     {"features": {"amount": 182.5, "device_risk_score": null, ...}, "model": "fraud", "request_id": "r-1"}
///     {"instances": [{...features...}, ...], "model": "fraud", "request_id": "b-7"}
///
/// The members may come in any order. Because "model" may follow the features, feature members are
/// first kept as (name bytes, value) pairs and placed once the model is known.
public struct PredictRequestParser {

    /// Where a feature's name lies in the body, or its decoded form when it had escapes.
    enum Name {
        case raw(Range<Int>)
        case decoded(String)
    }

    struct Member {
        let name: Name
        /// NaN for null.
        let value: Double
        /// The value's text in the body; `.null` for null.
        let text: ValueSpan
    }

    public static func parse(_ body: UnsafeRawBufferPointer, models: ActiveModels.Snapshot, maxBatchSize: Int) throws(APIError) -> PredictRequest {
        let bytes = body.bindMemory(to: UInt8.self)
        var parser = JSONParser(bytes)
        var modelName: String?
        var requestID: String?
        var single: [Member]?
        var instances: [[Member]]?
        do {
            try parser.expect(UInt8(ascii: "{"), "a JSON object")
            if !parser.consume(UInt8(ascii: "}")) {
                repeat {
                    parser.skipWhitespace()
                    let key = try parser.parseString()
                    try parser.expect(UInt8(ascii: ":"), "':' after a member name")
                    switch key {
                    case "features":
                        guard single == nil else { throw APIError(.invalidRequest, "\"features\" is given twice") }
                        single = try members(&parser, bytes: bytes, instance: nil)
                    case "instances":
                        guard instances == nil else { throw APIError(.invalidRequest, "\"instances\" is given twice") }
                        instances = try batch(&parser, bytes: bytes, maxBatchSize: maxBatchSize)
                    case "model":
                        guard modelName == nil else { throw APIError(.invalidRequest, "\"model\" is given twice") }
                        modelName = try stringMember(&parser, "model")
                    case "request_id":
                        guard requestID == nil else { throw APIError(.invalidRequest, "\"request_id\" is given twice") }
                        let id = try stringMember(&parser, "request_id")
                        if let problem = RequestID.problem(with: id) { throw APIError(.invalidRequest, problem) }
                        requestID = id
                    default:
                        throw APIError(.invalidRequest, "unknown member \(JSONText.quoted(key)) (expected features or instances, model, request_id)")
                    }
                } while parser.consume(UInt8(ascii: ","))
                try parser.expect(UInt8(ascii: "}"), "',' or '}'")
            }
            parser.skipWhitespace()
            guard parser.isAtEnd else { throw JSONParseError(offset: parser.offset, reason: "unexpected data after the JSON value") }
        } catch let error as JSONParseError {
            throw APIError(.invalidJSON, "body is not valid JSON: \(error)")
        } catch let error as APIError {
            // Found before the end of the body: a body that is not JSON at all is told so rather
            // than what was wrong with its first part (a 422 for a feature, then a stray byte).
            // (A name given twice is JSON; the members' own checks refuse it.)
            do { _ = try JSONParser.parse(bytes, allowingRepeatedNames: true) } catch let syntax {
                throw APIError(.invalidJSON, "body is not valid JSON: \(syntax)")
            }
            throw error
        } catch {
            throw APIError(.invalidJSON, "body is not valid JSON")
        }

        switch (single, instances) {
        case (nil, nil):
            throw APIError(.invalidRequest, "the body needs \"features\" (one transaction) or \"instances\" (a batch)")
        case (.some, .some):
            throw APIError(.invalidRequest, "give either \"features\" or \"instances\", not both")
        case (nil, .some(let batch)) where batch.isEmpty:
            throw APIError(.emptyBatch, "\"instances\" is empty")
        default:
            break
        }
        let model = try models.resolve(modelName)
        if let single {
            let (values, spans) = try row(single, model: model, bytes: bytes, instance: nil)
            return PredictRequest(model: model, requestID: requestID, rows: [values], spans: [spans], isBatch: false)
        }
        let batch = instances!
        var rows: [[Double]] = []
        var spans: [[ValueSpan]] = []
        rows.reserveCapacity(batch.count)
        spans.reserveCapacity(batch.count)
        for (index, members) in batch.enumerated() {
            let (values, texts) = try row(members, model: model, bytes: bytes, instance: index)
            rows.append(values)
            spans.append(texts)
        }
        return PredictRequest(model: model, requestID: requestID, rows: rows, spans: spans, isBatch: true)
    }

    private static func batch(_ parser: inout JSONParser, bytes: UnsafeBufferPointer<UInt8>, maxBatchSize: Int) throws -> [[Member]] {
        parser.skipWhitespace()
        guard parser.peek() == UInt8(ascii: "[") else {
            try wrongKind(&parser, "\"instances\" must be an array of feature objects")
        }
        _ = parser.consume(UInt8(ascii: "["))
        var result: [[Member]] = []
        if parser.consume(UInt8(ascii: "]")) { return result }
        repeat {
            guard result.count < maxBatchSize else {
                throw APIError(.batchTooLarge, "\"instances\" has more than \(maxBatchSize) entries (the maximum batch size)")
            }
            result.append(try members(&parser, bytes: bytes, instance: result.count))
        } while parser.consume(UInt8(ascii: ","))
        try parser.expect(UInt8(ascii: "]"), "',' or ']' in \"instances\"")
        return result
    }

    /// Reads one features object as raw members.
    private static func members(_ parser: inout JSONParser, bytes: UnsafeBufferPointer<UInt8>, instance: Int?) throws -> [Member] {
        parser.skipWhitespace()
        guard parser.peek() == UInt8(ascii: "{") else {
            // "instances": [{...},] is bad JSON, "features": null a bad request.
            try wrongKind(&parser, "\(where_(instance)) must be a JSON object of features")
        }
        _ = parser.consume(UInt8(ascii: "{"))
        var result: [Member] = []
        result.reserveCapacity(32)
        if parser.consume(UInt8(ascii: "}")) { return result }
        repeat {
            parser.skipWhitespace()
            // Most names have no escapes: keep their byte range; decode only the rest.
            let name: Name
            if let range = try parser.parsePlainString() {
                name = .raw(range)
            } else {
                name = .decoded(try parser.parseString())
            }
            try parser.expect(UInt8(ascii: ":"), "':' after a feature name")
            parser.skipWhitespace()
            let value: Double
            var text = ValueSpan.null
            switch parser.peek() ?? 0 {
            case UInt8(ascii: "n"):
                guard try parser.consumeNull() else { throw JSONParseError(offset: parser.offset, reason: "invalid literal") }
                value = .nan
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                let start = parser.offset
                guard let number = try parser.parseNumber(writtenWithAtMost: FeatureError.maxNumberLength) else {
                    throw prefixed(.numberTooLong(nameText(name, UnsafeRawBufferPointer(bytes))), instance)
                }
                value = number
                text = ValueSpan(start: start, count: parser.offset - start)
            default:
                try parser.skipValue()
                throw prefixed(.notNumeric(nameText(name, UnsafeRawBufferPointer(bytes))), instance)
            }
            result.append(Member(name: name, value: value, text: text))
        } while parser.consume(UInt8(ascii: ","))
        try parser.expect(UInt8(ascii: "}"), "',' or '}' in a features object")
        return result
    }

    /// Places members into the model's row, strictly: every feature present once, no other; and
    /// their texts in the same order.
    private static func row(_ members: [Member], model: LoadedVersion, bytes: UnsafeBufferPointer<UInt8>,
                            instance: Int?) throws(APIError) -> ([Double], [ValueSpan]) {
        let index = model.index
        let width = index.count
        let names = model.model.featureNames
        let acceptsMissingValues = model.model.acceptsMissingValues
        var row = [Double](repeating: .nan, count: width)
        var texts = [ValueSpan](repeating: .null, count: width)
        var seen = [Bool](repeating: false, count: width)
        let base = UnsafeRawBufferPointer(bytes)
        var expected = 0
        for member in members {
            let position: Int?
            switch member.name {
            case .raw(let range): position = index.position(of: UnsafeRawBufferPointer(rebasing: base[range]), expected: expected)
            case .decoded(let name): position = index.position(of: name, expected: expected)
            }
            guard let position else { throw prefixed(.unknown(nameText(member.name, base)), instance) }
            expected = position + 1
            guard !seen[position] else {
                throw APIError(.invalidFeatures, "\(where_(instance)): feature '\(names[position])' is given twice", feature: names[position])
            }
            seen[position] = true
            if member.value.isNaN {
                guard acceptsMissingValues else { throw prefixed(.nullNotAccepted(names[position]), instance) }
            } else {
                // The parser reads only number syntax here, so an infinity is a number too large for a double.
                guard member.value.isFinite else { throw prefixed(.outOfRange(names[position]), instance) }
                row[position] = member.value
                texts[position] = member.text
            }
        }
        if members.count < width, let missing = seen.firstIndex(of: false) {
            throw prefixed(.missing(names[missing]), instance)
        }
        return (row, texts)
    }

    private static func stringMember(_ parser: inout JSONParser, _ name: String) throws -> String {
        parser.skipWhitespace()
        guard parser.peek() == UInt8(ascii: "\"") else { try wrongKind(&parser, "\"\(name)\" must be a string") }
        return try parser.parseString()
    }

    /// Refuses the value at the parser, of the wrong kind for its member: a bad request when it is
    /// valid JSON, bad JSON when it is not (skipValue throws). The rest of the body is not read.
    private static func wrongKind(_ parser: inout JSONParser, _ detail: String) throws -> Never {
        try parser.skipValue()
        throw APIError(.invalidRequest, detail)
    }

    /// A feature name for an error message (the parser has checked that it is UTF-8).
    private static func nameText(_ name: Name, _ base: UnsafeRawBufferPointer) -> String {
        switch name {
        case .raw(let range): return String(decoding: UnsafeRawBufferPointer(rebasing: base[range]), as: UTF8.self)
        case .decoded(let name): return name
        }
    }

    private static func prefixed(_ error: FeatureError, _ instance: Int?) -> APIError {
        .invalidFeatures(error.description, feature: error.featureName, instance: instance)
    }

    private static func where_(_ instance: Int?) -> String {
        instance.map { "instances[\($0)]" } ?? "\"features\""
    }
}
