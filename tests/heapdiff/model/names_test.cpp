// Short names for the text report: a table of what the demangler (and .symtab) really
// produces -> what an engineer should read.
#include "leakprobe/analysis/names.h"

#include <gtest/gtest.h>

namespace leakprobe::analysis {
namespace {

struct Case {
  const char* full;
  const char* short_name;
};

TEST(Names, ShortFunctionNames) {
  const Case cases[] = {
      // C names, with and without GCC's clone suffixes.
      {"malloc", "malloc"},
      {"handle__publish", "handle__publish"},
      {"handle__publish.cold", "handle__publish"},
      {"db__message_insert.isra.0", "db__message_insert"},
      {"packet__read.part.0.constprop.0", "packet__read"},
      {"", ""},
      // Parameter lists and the standard aliases (the demo's three sites).
      {"repro::open_device_session(repro::CommonOptions const&, std::__cxx11::basic_string<char, "
       "std::char_traits<char>, std::allocator<char> > const&)",
       "repro::open_device_session"},
      {"std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> "
       ">::_M_assign(std::__cxx11::basic_string<char, std::char_traits<char>, "
       "std::allocator<char> > const&)",
       "std::string::_M_assign"},
      {"std::__cxx11::basic_string<wchar_t, std::char_traits<wchar_t>, std::allocator<wchar_t> "
       ">::reserve(unsigned long)",
       "std::wstring::reserve"},
      {"std::basic_ostream<char, std::char_traits<char> >& std::operator<< "
       "<std::char_traits<char> >(std::basic_ostream<char, std::char_traits<char> >&, char "
       "const*)",
       "std::operator<<"},
      {"mosquitto_new", "mosquitto_new"},
      // Templates: class and function template arguments, return types.
      {"std::vector<int, std::allocator<int> >::push_back(int const&)", "std::vector::push_back"},
      {"void std::vector<repro::Device, std::allocator<repro::Device> "
       ">::_M_realloc_insert<repro::Device const&>(__gnu_cxx::__normal_iterator<repro::Device*, "
       "std::vector<repro::Device, std::allocator<repro::Device> > >, repro::Device const&)",
       "std::vector::_M_realloc_insert"},
      {"repro::Pool<repro::Session>::get()", "repro::Pool::get"},
      {"std::unique_ptr<repro::Timer, std::default_delete<repro::Timer> > "
       "std::make_unique<repro::Timer, int&>(int&)",
       "std::make_unique"},
      // Operators, including the ones that look like brackets.
      {"operator new(unsigned long)", "operator new"},
      {"operator new[](unsigned long, std::nothrow_t const&)", "operator new[]"},
      {"operator delete(void*, unsigned long)", "operator delete"},
      {"repro::Topic::operator<(repro::Topic const&) const", "repro::Topic::operator<"},
      {"repro::Topic::operator>>(int)", "repro::Topic::operator>>"},
      {"repro::Topic::operator<=>(repro::Topic const&) const", "repro::Topic::operator<=>"},
      {"repro::Handler::operator()(mqtt::message const&)", "repro::Handler::operator()"},
      {"repro::Table::operator[](unsigned long)", "repro::Table::operator[]"},
      {"repro::Ptr::operator->() const", "repro::Ptr::operator->"},
      {"bool repro::operator< <int>(repro::Key<int> const&, repro::Key<int> const&)",
       "repro::operator<"},
      {"repro::Value::operator unsigned long() const", "repro::Value::operator unsigned long"},
      {"repro::Value::operator std::__cxx11::basic_string<char, std::char_traits<char>, "
       "std::allocator<char> >() const",
       "repro::Value::operator std::string"},
      {"operator\"\"_km(unsigned long long)", "operator\"\"_km"},
      // Lambdas, local classes and std::function's thunks.
      {"repro::make_telemetry_handler(repro::CommonOptions const&)::{lambda(mqtt::message "
       "const&)#1}::operator()(mqtt::message const&) const",
       "repro::make_telemetry_handler::{lambda#1}::operator()"},
      {"main::{lambda()#2}::operator()() const", "main::{lambda#2}::operator()"},
      {"repro::run(int)::Local::grow(int)", "repro::run::Local::grow"},
      {"std::_Function_handler<void (int), repro::start(int)::{lambda(int)#1}>::_M_invoke(std::"
       "_Any_data const&, int&&)",
       "std::_Function_handler::_M_invoke"},
      {"repro::{unnamed type#1}::make()", "repro::{unnamed type#1}::make"},
      // Anonymous namespaces are kept: they are part of which function it is.
      {"(anonymous namespace)::make_buffer(unsigned long)", "(anonymous namespace)::make_buffer"},
      {"repro::(anonymous namespace)::Cache::insert(int)",
       "repro::(anonymous namespace)::Cache::insert"},
      // Function pointers in parameters.
      {"repro::on_message(void (*)(mosquitto*, void*, mosquitto_message const*), int)",
       "repro::on_message"},
      {"repro::install(int (repro::Session::*)(int) const, void (&)(int))", "repro::install"},
      // ABI tags, clones, qualifiers, thunks.
      {"repro::topic_name[abi:cxx11](int)", "repro::topic_name"},
      {"repro::Session::add(int) [clone .cold]", "repro::Session::add"},
      {"repro::Session::take() &&", "repro::Session::take"},
      {"non-virtual thunk to repro::Client::on_connect(int)", "repro::Client::on_connect"},
      {"repro::Session::~Session()", "repro::Session::~Session"},
      // Not understood: whole rather than mangled further.
      {"broken(name<", "broken(name<"},
      {"_ZN5repro3fooEv", "_ZN5repro3fooEv"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(short_function_name(c.full), c.short_name) << c.full;
    // Cut anywhere (a truncated or odd symbol), a name still comes back, never an empty one.
    const std::string full = c.full;
    for (size_t n = 1; n < full.size(); ++n) {
      for (NameDetail d : {NameDetail::kShort, NameDetail::kWithTemplates}) {
        EXPECT_FALSE(short_function_name(full.substr(0, n), d).empty()) << full.substr(0, n);
        EXPECT_FALSE(short_function_name(full.substr(n), d).empty()) << full.substr(n);
      }
    }
  }
}

TEST(Names, TemplateArgumentsCanBeKept) {
  EXPECT_EQ(
      short_function_name("repro::Pool<repro::Session>::get(int)", NameDetail::kWithTemplates),
      "repro::Pool<repro::Session>::get");
  EXPECT_EQ(short_function_name("void repro::emit<std::__cxx11::basic_string<char, "
                                "std::char_traits<char>, std::allocator<char> > >(int)",
                                NameDetail::kWithTemplates),
            "repro::emit<std::string >");
}

TEST(Names, StandardAliases) {
  EXPECT_EQ(rewrite_std_aliases("f(std::__cxx11::basic_string<char, std::char_traits<char>, "
                                "std::allocator<char> > const&, std::__cxx11::list<int, "
                                "std::allocator<int> >&)"),
            "f(std::string const&, std::list<int, std::allocator<int> >&)");
  EXPECT_EQ(rewrite_std_aliases("std::basic_string<char, std::char_traits<char>, "
                                "std::allocator<char> >::append(char const*)"),
            "std::string::append(char const*)");
  EXPECT_EQ(rewrite_std_aliases("std::__cxx11::basic_ostringstream<char, std::char_traits<char>, "
                                "std::allocator<char> >::str() const"),
            "std::ostringstream::str() const");
  EXPECT_EQ(rewrite_std_aliases("plain_c_function"), "plain_c_function");
}

TEST(Names, ShortPaths) {
  EXPECT_EQ(short_path("/work/main/reproducers/unclosed_connections/gateway.cpp"),
            "unclosed_connections/gateway.cpp");
  EXPECT_EQ(short_path("/work/main/reproducers/unclosed_connections/gateway.cpp", 3),
            "reproducers/unclosed_connections/gateway.cpp");
  EXPECT_EQ(short_path("src/session.c"), "src/session.c");
  EXPECT_EQ(short_path("session.c"), "session.c");
  EXPECT_EQ(short_path("/session.c"), "/session.c");
  EXPECT_EQ(short_path(""), "");
}

}  // namespace
}  // namespace leakprobe::analysis
