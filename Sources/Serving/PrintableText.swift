/// Text that is shown to people one line at a time (request ids in answers, logs and the audit
/// log; reasons and actors in the promotion history), where a line break, a terminal escape or a
/// bidirectional override would forge or hide what a reader sees.
public enum PrintableText {
    /// C0 and C1 controls (line feed, escape, NUL, DEL...), format characters (bidirectional
    /// overrides, zero-width spaces), the Unicode line and paragraph separators, and what Unicode
    /// says to draw as nothing (default-ignorable: a Hangul filler, a grapheme joiner, a variation
    /// selector), which made "r-1" and another id look the same on screen and differ in a query.
    public static func isUnprintable(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.properties.isDefaultIgnorableCodePoint { return true }
        switch scalar.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator: return true
        default: return false
        }
    }

    public static func isPrintable(_ text: String) -> Bool {
        !text.unicodeScalars.contains(where: isUnprintable)
    }
}
