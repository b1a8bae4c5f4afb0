#ifndef CSQLITE_SHIM_H
#define CSQLITE_SHIM_H
#include <sqlite3.h>

// SQLITE_TRANSIENT is a macro that casts -1 to a function pointer, which Swift cannot import.
// "If the seventh argument is the special value SQLITE_TRANSIENT, then SQLite makes its own private
// copy of the data immediately" (https://sqlite.org/c3ref/bind_blob.html).
static inline sqlite3_destructor_type csqlite_transient(void) { return SQLITE_TRANSIENT; }

#endif
