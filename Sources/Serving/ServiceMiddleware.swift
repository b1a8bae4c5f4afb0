import Hummingbird
import Logging

/// Wraps every route the router answers (all but `POST /predict`, which `PredictChannelHandler`
/// answers, counts and times itself): any error becomes the API's JSON error with its status, and
/// every request is counted and timed by route (the matched route pattern, so label values stay few).
struct ServiceMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServingMetrics
    let routes: RouteTable
    let drain: ShutdownDrain

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as APIError {
            response = try error.response(from: request, context: context)
        } catch let error as any HTTPResponseError {
            if error.status == .notFound, context.endpointPath == "NotFound", let known = routes.methods(for: request.uri.path) {
                // A known path asked with another method: say which methods it has. Counted under
                // Hummingbird's "NotFound" route like any request that matched no route, so that
                // a scanner's GET /predict does not count as a refused prediction in the alerts.
                let allowed = known.map(\.rawValue).joined(separator: ", ")
                response = try APIError(.methodNotAllowed, "\(request.method) is not allowed on \(request.uri.path) (allowed: \(allowed))")
                    .response(from: request, context: context)
                response.headers[.allow] = allowed
            } else {
                response = try APIError.from(error, request: request).response(from: request, context: context)
            }
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(error)"])
            response = try APIError(.internalError, "internal error").response(from: request, context: context)
        }
        metrics.request(route: context.endpointPath ?? "unmatched", status: response.status.code, duration: ContinuousClock.now - started)
        if drain.isDraining { response.headers[.connection] = "close" }
        return response
    }
}
