import Foundation
import Hummingbird
import NIOHTTP1
import ModelRuntime

/// Every refusal the HTTP API gives, with its status and a JSON body `{"error": CODE, "detail": TEXT}`.
/// The statuses come from this one table.
public struct APIError: Error, HTTPResponseError, Sendable {
    public enum Code: String, Sendable {
        case invalidJSON = "invalid_json"
        case unsupportedMediaType = "unsupported_media_type"
        case bodyTooLarge = "body_too_large"
        case invalidRequest = "invalid_request"
        case invalidFeatures = "invalid_features"
        case emptyBatch = "empty_batch"
        case batchTooLarge = "batch_too_large"
        case unknownModel = "unknown_model"
        case modelRequired = "model_required"
        case noActiveVersion = "no_active_version"
        case auditUnavailable = "audit_unavailable"
        case notFound = "not_found"
        case methodNotAllowed = "method_not_allowed"
        case malformedHTTP = "malformed_http"
        case headersTooLarge = "headers_too_large"
        case registryUnavailable = "registry_unavailable"
        case internalError = "internal_error"

        var status: HTTPResponse.Status {
            switch self {
            case .invalidJSON, .invalidRequest, .emptyBatch, .malformedHTTP: return .badRequest
            case .headersTooLarge: return .requestHeaderFieldsTooLarge
            case .unsupportedMediaType: return .unsupportedMediaType
            case .bodyTooLarge, .batchTooLarge: return .contentTooLarge
            case .invalidFeatures: return .unprocessableContent
            case .unknownModel, .notFound: return .notFound
            case .modelRequired: return .badRequest
            case .noActiveVersion, .auditUnavailable, .registryUnavailable: return .serviceUnavailable
            case .methodNotAllowed: return .methodNotAllowed
            case .internalError: return .internalServerError
            }
        }
    }

    public let code: Code
    public let detail: String
    /// The feature at fault, for invalid_features.
    public let feature: String?
    public let status: HTTPResponse.Status

    public init(_ code: Code, _ detail: String, feature: String? = nil, status: HTTPResponse.Status? = nil) {
        self.code = code
        self.detail = detail
        self.feature = feature
        self.status = status ?? code.status
    }

    /// An error Hummingbird itself raised (no route, body over its limit...), in the API's form.
    static func from(_ error: any HTTPResponseError, request: Request) -> APIError {
        switch error.status {
        case .notFound: return APIError(.notFound, "no route for \(request.method) \(request.uri.path)")
        case .methodNotAllowed: return APIError(.methodNotAllowed, "\(request.method) is not allowed on \(request.uri.path)")
        case .contentTooLarge: return APIError(.bodyTooLarge, "the request body is larger than the service accepts")
        default: return APIError(.invalidRequest, "\(error.status.reasonPhrase)", status: error.status)
        }
    }

    /// A request NIO's HTTP parser rejected, in the head (answered by `MalformedRequestAnswer`) or in
    /// a body's framing (answered by `PredictChannelHandler`, which reads the only bodies).
    init(parserError error: HTTPParserError) {
        switch error {
        case .headerOverflow:
            self.init(.headersTooLarge, "the request's headers are larger than the service accepts")
        default:
            self.init(.malformedHTTP, "the request is not valid HTTP/1.1 (\(Self.fault(error)))")
        }
    }

    /// The parser's finding in words.
    private static func fault(_ error: HTTPParserError) -> String {
        switch error {
        case .invalidMethod: return "the method is not one this server knows (it takes the standard HTTP methods)"
        case .invalidURL, .invalidPath, .invalidQueryString, .invalidFragment: return "the request target is not a valid URI"
        case .invalidVersion: return "the version is not HTTP/1.x"
        case .invalidHeaderToken: return "a header name or value holds a character HTTP does not allow"
        case .invalidContentLength: return "Content-Length is not a number"
        case .unexpectedContentLength: return "Content-Length is given twice or beside Transfer-Encoding"
        case .invalidChunkSize: return "a chunk size is not hexadecimal"
        case .lfExpected, .invalidConstant, .strictModeAssertion: return "a line is not terminated as HTTP requires"
        case .invalidCharactersUsed: return "the request line holds a character HTTP does not allow"
        case .invalidHost, .invalidPort: return "the Host header is not a host and port"
        case .unknown: return "the parser gave no finer reason; Content-Length beside Transfer-Encoding is one such case"
        default: return "\(error)"
        }
    }

    /// A refused row of features; `instance`, its position in a batch, prefixes the detail.
    static func invalidFeatures(_ detail: String, feature: String?, instance: Int?) -> APIError {
        APIError(.invalidFeatures, (instance.map { "instances[\($0)]: " } ?? "") + detail, feature: feature)
    }

    public var body: String {
        var text = "{\"error\":\"\(code.rawValue)\",\"detail\":\(JSONText.quoted(detail))"
        if let feature { text += ",\"feature\":\(JSONText.quoted(feature))" }
        return text + "}"
    }

    /// A refusal that passes once the service has caught up: it is answered with `Retry-After: 1`.
    var asksToRetry: Bool { code == .auditUnavailable || code == .noActiveVersion }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        if asksToRetry { headers[.retryAfter] = "1" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}
