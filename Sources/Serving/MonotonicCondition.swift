#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A lock with a condition whose timed waits run on the monotonic clock.
///
/// Foundation's `NSCondition.wait(until:)` takes a wall-clock `Date`: a clock stepped back (NTP,
/// a restored VM) stretches the wait by the step. The audit writer's idle wait is what brings the
/// per-minute counts up to date and runs retention, so a step of an hour stopped both for an hour.
final class MonotonicCondition: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    init() {
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        #if !canImport(Darwin)
        // Darwin has no pthread_condattr_setclock; its relative wait below needs none.
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        #endif
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }
    func signal() { pthread_cond_signal(condition) }

    /// Waits, with the lock held, until signalled or `nanoseconds` have passed on the monotonic
    /// clock (or a spurious wake-up: callers check their predicate).
    func wait(nanoseconds: UInt64) {
        #if canImport(Darwin)
        var relative = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
        pthread_cond_timedwait_relative_np(condition, mutex, &relative)
        #else
        var deadline = timespec()
        clock_gettime(CLOCK_MONOTONIC, &deadline)
        // Clamped: a wait of centuries is as good as one of a day.
        let wait = min(nanoseconds, 86_400_000_000_000)
        var seconds = deadline.tv_sec + Int(wait / 1_000_000_000)
        var fraction = deadline.tv_nsec + Int(wait % 1_000_000_000)
        if fraction >= 1_000_000_000 {
            seconds += 1
            fraction -= 1_000_000_000
        }
        deadline.tv_sec = seconds
        deadline.tv_nsec = fraction
        pthread_cond_timedwait(condition, mutex, &deadline)
        #endif
    }
}
