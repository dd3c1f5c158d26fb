// Go's runtime and standard library in a stack, by function name as Go profiles spell it
// ("runtime.mallocgc", "sync.(*WaitGroup).Wait", "main.(*gateway).openSession.func1",
// "github.com/eclipse/paho%2emqtt%2egolang.(*router).addRoute"). The site of a Go stack is
// the first frame that is neither: the user's function, not runtime.mallocgc or
// runtime.gopark. Only applied to frames of Go profiles (a C name such as "foo.cold" would
// otherwise look like package foo).
#pragma once

#include <string_view>

namespace leakprobe::analysis {

// The package path of a Go function name: "net/http" for "net/http.(*conn).serve",
// "github.com/eclipse/paho%2emqtt%2egolang" for its functions, "" if there is none.
std::string_view go_package(std::string_view function);

// Allocation entry points and helpers of the Go runtime (runtime.mallocgc, newobject,
// makeslice, growslice, makemap, makechan, concatstrings, convT*, ...): folded away like
// malloc, they say "memory", not "why".
bool is_go_allocation_function(std::string_view function);

// The Go runtime and standard library (no dot in the first path element, and not package
// main): runtime.gopark, runtime.selectgo, runtime.chanrecv1, sync.runtime_SemacquireMutex,
// sync.(*WaitGroup).Wait, internal/poll..., net/http.... Shown in the stack, never the site,
// like libc and libstdc++ for native code.
bool is_go_runtime_function(std::string_view function);

// Does this profile look like Go's? True for a name of the runtime package ("runtime.main",
// "runtime.gopark", ...), which every Go heap and goroutine profile carries.
bool is_go_runtime_package_function(std::string_view function);

}  // namespace leakprobe::analysis
