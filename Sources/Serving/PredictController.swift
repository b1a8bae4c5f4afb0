import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ModelRuntime
import Registry

/// `POST /predict`'s rules, apart from how the request arrives: what its head alone refuses, and
/// how a complete body becomes scores, audit rows and the answer. `PredictChannelHandler` runs
/// them on the connection's event loop.
struct PredictController: Sendable {
    let models: ActiveModels
    let audit: AuditWriter
    let metrics: ServingMetrics
    let configuration: ServiceConfiguration

    /// A request scored: its rows for the audit log and the answer to send once they are recorded.
    struct Scored {
        let drafts: [AuditDraft]
        let model: String
        let version: String
        let answer: ByteBuffer
    }

    /// The refusal a request's head earns before any of its body is read, or nil.
    func refusal(for head: HTTPRequest) -> APIError? {
        let contentType = head.headerFields.combined(.contentType)
        guard Self.isJSON(contentType) else {
            return APIError(.unsupportedMediaType, "send the body as Content-Type: application/json")
        }
        if let refusal = Self.encodingRefusal(contentType: contentType, contentEncoding: head.headerFields.combined(.contentEncoding)) {
            return APIError(.unsupportedMediaType, refusal)
        }
        // A model or version asked for in the URL would otherwise be ignored without a word.
        if let path = head.path, let mark = path.firstIndex(of: "?"), path.index(after: mark) < path.endIndex {
            let query = path[path.index(after: mark)...]
            return APIError(.invalidRequest, "POST /predict takes no query parameters (got '\(query)'): name the model in the body's \"model\" member")
        }
        // A declared length over the limit is refused before a byte of the body is read: the client
        // learns at once, instead of after sending (or stalling on) a body that would be refused.
        if let declared = head.headerFields.combined(.contentLength).flatMap(ContentLength.bytes), declared > configuration.maxBodyBytes {
            return bodyTooLarge
        }
        return nil
    }

    var bodyTooLarge: APIError { APIError(.bodyTooLarge, "the request body is over \(configuration.maxBodyBytes) bytes") }

    /// Parses and scores a complete body with the versions active now. `started` (uptime, ns) is
    /// when its head was read: `latency_us` counts from there.
    func score(_ body: ByteBuffer, started: UInt64) throws(APIError) -> Scored {
        let snapshot = models.snapshot()
        let parsed = try body.withUnsafeReadableBytes { (bytes) throws(APIError) in
            try PredictRequestParser.parse(bytes, models: snapshot, maxBatchSize: configuration.maxBatchSize)
        }
        let loaded = parsed.model
        let version = loaded.version
        var scores: [Double] = []
        scores.reserveCapacity(parsed.rows.count)
        for (index, row) in parsed.rows.enumerated() {
            // A score that is not a number would fail its audit insert, and with it the whole group
            // commit: other requests' records with it.
            do {
                scores.append(try loaded.model.checkedScore(row))
            } catch {
                throw APIError.invalidFeatures(error.description, feature: error.feature, instance: parsed.isBatch ? index : nil)
            }
        }
        let latency = Int((DispatchTime.now().uptimeNanoseconds - started) / 1_000)

        let now = Int64(Date().timeIntervalSince1970 * 1000)
        // Clamped: a clock set before 1970 trapped every request without an id.
        let requestID = parsed.requestID ?? RequestID.make(unixMilliseconds: UInt64(max(now, 0)))
        let (text, spans) = Self.keptForAudit(body, spans: parsed.spans)
        var drafts: [AuditDraft] = []
        drafts.reserveCapacity(scores.count)
        for (index, score) in scores.enumerated() {
            drafts.append(AuditDraft(unixMilliseconds: now, requestID: requestID, rowIndex: index, versionID: version.id,
                                     featureJSON: loaded.featureJSON, body: text, spans: spans[index], score: score,
                                     decision: loaded.decision(for: score), latencyMicroseconds: latency))
        }
        var answer = ByteBuffer()
        answer.reserveCapacity(parsed.isBatch ? 160 + 48 * drafts.count : 224)
        answer.writeString("{\"request_id\":")
        answer.writeString(JSONText.quoted(requestID))
        answer.writeString(",")
        answer.writeString(loaded.answerFields)
        if parsed.isBatch {
            answer.writeString(",\"predictions\":[")
            for (index, draft) in drafts.enumerated() {
                answer.writeString(index > 0 ? ",{\"score\":" : "{\"score\":")
                answer.writeString(JSONText.number(draft.score))
                answer.writeString(",\"decision\":\"\(draft.decision.rawValue)\"}")
            }
            answer.writeString("],")
        } else {
            answer.writeString(",\"score\":")
            answer.writeString(JSONText.number(drafts[0].score))
            answer.writeString(",\"decision\":\"\(drafts[0].decision.rawValue)\",")
        }
        answer.writeString("\"latency_us\":")
        answer.writeString(String(latency))
        answer.writeString("}")
        return Scored(drafts: drafts, model: version.model, version: version.label.description, answer: answer)
    }

    /// The refusal for rows the audit log did not take or did not commit: no answer without a record.
    static func notRecorded(_ error: any Error) -> APIError {
        APIError(.auditUnavailable, "prediction not recorded, so not answered: \(error)")
    }

    /// Counts a request's predictions once they are recorded (or, in async mode, queued).
    func recorded(_ scored: Scored) {
        if configuration.audit.mode == .async { metrics.auditAsyncResponses.increment(by: Int64(scored.drafts.count)) }
        metrics.predictions(scored.drafts, model: scored.model, version: scored.version)
    }

    /// The bytes the audit writer will copy the rows' numbers from: the body itself, shared, unless
    /// most of it is something else (white space, a long request id), which should not wait in the
    /// audit queue; then only the numbers, copied, with their spans moved onto the copy. A body
    /// is kept whole when it is at most 8 times its numbers plus 4 KiB (names and punctuation make
    /// the example rows 5.3 times their numbers).
    static func keptForAudit(_ body: ByteBuffer, spans: [[ValueSpan]]) -> (ByteBuffer, [[ValueSpan]]) {
        let numbers = spans.reduce(0) { total, row in row.reduce(total) { $0 + $1.count } }
        guard body.readableBytes > 8 * numbers + 4_096 else { return (body, spans) }
        var copy = ByteBuffer()
        copy.reserveCapacity(numbers)
        var moved = spans
        body.withUnsafeReadableBytes { bytes in
            for row in moved.indices {
                for column in moved[row].indices where moved[row][column].count > 0 {
                    let span = moved[row][column]
                    moved[row][column].start = copy.writerIndex
                    copy.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[span.start..<span.start + span.count]))
                }
            }
        }
        return (copy, moved)
    }

    /// Why a JSON body is not taken as it is declared, or nil: a compressed body (no coding is
    /// decoded here), or a charset other than UTF-8 (JSON is UTF-8, RFC 8259). Parameters are read
    /// only when there are any: the usual header has none.
    static func encodingRefusal(contentType: String?, contentEncoding: String?) -> String? {
        if let coding = contentEncoding?.trimmingCharacters(in: .whitespaces), !coding.isEmpty, coding.lowercased() != "identity" {
            return "Content-Encoding \(coding) is not accepted: send the body uncompressed"
        }
        guard let contentType, contentType.utf8.contains(UInt8(ascii: ";")) else { return nil }
        for parameter in contentType.split(separator: ";").dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2, pair[0].lowercased() == "charset" else { continue }
            let charset = pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\"")).lowercased()
            if charset != "utf-8" && charset != "utf8" {
                return "charset \(pair[1]) is not accepted: send the body as UTF-8"
            }
        }
        return nil
    }

    /// `application/json` in any letter case, with or without parameters such as `; charset=utf-8`.
    /// Compared byte by byte: it runs on every request, and splitting and lower-casing strings
    /// cost more than scoring.
    static func isJSON(_ contentType: String?) -> Bool {
        guard var contentType else { return false }
        return contentType.withUTF8 { bytes in
            var start = 0
            while start < bytes.count, bytes[start] == UInt8(ascii: " ") || bytes[start] == UInt8(ascii: "\t") { start += 1 }
            let expected = "application/json".utf8
            guard bytes.count - start >= expected.count else { return false }
            for (offset, byte) in expected.enumerated() {
                let given = bytes[start + offset]
                let lowered = given >= UInt8(ascii: "A") && given <= UInt8(ascii: "Z") ? given | 0x20 : given
                if lowered != byte { return false }
            }
            var end = start + expected.count
            while end < bytes.count, bytes[end] == UInt8(ascii: " ") || bytes[end] == UInt8(ascii: "\t") { end += 1 }
            return end == bytes.count || bytes[end] == UInt8(ascii: ";")
        }
    }
}
