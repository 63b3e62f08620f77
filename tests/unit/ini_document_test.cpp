#include "config_reader.hpp"
#include "ini_document.hpp"

#include <catch2/catch.hpp>

using namespace smartvm;

namespace {
std::vector<std::string> formatted(const Diagnostics& ds) {
  std::vector<std::string> out;
  for (const auto& d : ds) out.push_back(d.format());
  return out;
}
}  // namespace

TEST_CASE("INI entries keep their section, value and line", "[ini]") {
  auto doc = IniDocument::parse("; comment\n[job]\ncommand = /bin/true ; trailing comment\n\n[env]\nA=1\n", "a.ini");
  REQUIRE(doc.diagnostics().empty());
  const IniEntry* e = doc.find("job", "command");
  REQUIRE(e);
  CHECK(e->value == "/bin/true");
  CHECK(e->line == 3);
  REQUIRE(doc.find("env", "A"));
  CHECK(doc.find("env", "A")->line == 6);
  CHECK(doc.find("job", "A") == nullptr);
}

TEST_CASE("every INI syntax error is reported with its line", "[ini]") {
  std::string long_line = std::string(300, 'x') + " = a\n";
  auto doc = IniDocument::parse("[job]\nno equals sign\n[broken\nuser = a\nuser = b\n" + long_line +
                                    "key = v\n  continued\n= value\n",
                                "bad.ini");
  auto d = formatted(doc.diagnostics());
  REQUIRE(d.size() == 6);
  CHECK(d[0] == "bad.ini:2: expected 'key = value', a [section] or a comment");
  CHECK(d[1] == "bad.ini:3: section header without a closing ']'");
  CHECK(d[2] == "bad.ini:5: [job] user: given again (first on line 4)");
  CHECK(d[3] == "bad.ini:6: a key longer than 196 characters: \"" + std::string(40, 'x') + "...\"");
  CHECK(d[4] == "bad.ini:8: expected 'key = value', a [section] or a comment");  // no multi-line values
  CHECK(d[5] == "bad.ini:9: a value without a key");
}

TEST_CASE("an indented key after a section header is an ordinary key", "[ini]") {
  auto doc = IniDocument::parse("[job]\n  user = svc\n  group = g\n", "a.ini");
  CHECK(doc.diagnostics().empty());
  REQUIRE(doc.find("job", "group"));
  CHECK(doc.find("job", "group")->line == 3);
}

TEST_CASE("a NUL byte in a line is an error, not a silent truncation", "[ini]") {
  auto doc = IniDocument::parse(std::string("[job]\nuser = a\0b\n", 15), "nul.ini");
  REQUIRE(!doc.diagnostics().empty());
  CHECK(doc.diagnostics()[0].format() == "nul.ini:2: the line contains a NUL byte");
}

TEST_CASE("typed getters name file, line, key, value and what is accepted", "[ini]") {
  auto doc = IniDocument::parse(
      "[a]\nn = 12x\nbig = 99\nb = maybe\nm = 0999\ns = 10Q\nc = purple\nok = 5\nsz = 4K\nextra = 1\n", "t.ini");
  ConfigReader r(doc);
  CHECK(r.get_uint("a", "n", 7, 0, 100) == 7);
  CHECK(r.get_uint("a", "big", 7, 0, 50) == 7);
  CHECK(r.get_bool("a", "b", true));
  CHECK(r.get_umask("a", "m", 022) == 022);
  CHECK(r.get_size("a", "s", 1) == 1);
  CHECK(r.get_choice("a", "c", 0, {"red", "green", "blue"}) == 0);
  CHECK(r.get_uint("a", "ok", 0, 0, 10) == 5);
  CHECK(r.get_size("a", "sz", 0) == 4096);
  CHECK(r.get_string("a", "missing", "", true).empty());
  auto d = formatted(r.finish());
  REQUIRE(d.size() == 8);
  CHECK(d[0] == "t.ini: [a] missing: is required but missing");
  CHECK(d[1] == "t.ini:2: [a] n: \"12x\" is not a whole number from 0 to 100");
  CHECK(d[2] == "t.ini:3: [a] big: \"99\" is not a whole number from 0 to 50");
  CHECK(d[3] == "t.ini:4: [a] b: \"maybe\" is not a boolean (true or false)");
  CHECK(d[4] == "t.ini:5: [a] m: \"0999\" is not an octal mask from 000 to 0777, such as 0027");
  CHECK(d[5] == "t.ini:6: [a] s: \"10Q\" is not a size in bytes, optionally with a K, M, G or T suffix");
  CHECK(d[6] == "t.ini:7: [a] c: \"purple\" is not one of red, green or blue");
  CHECK(d[7] == "t.ini:10: warning: [a] extra: unknown key, ignored");
}

TEST_CASE("a semicolon inside quotes is part of the value, a comment after them is not", "[ini]") {
  auto doc = IniDocument::parse("[job]\nargs = -m \"a ;b\" 'c ;d' ; the comment\n"
                                "esc = \"say \\\" ;x\" ;comment\n"
                                "prose = it's fine ; a comment\n"
                                "plain = a;b ;c\n"
                                "escaped = 'it'\\''s' 'a ;b' \\' ;c\n",
                                "q.ini");
  REQUIRE(doc.diagnostics().empty());
  CHECK(doc.find("job", "args")->value == "-m \"a ;b\" 'c ;d'");
  CHECK(doc.find("job", "esc")->value == "\"say \\\" ;x\"");
  CHECK(doc.find("job", "prose")->value == "it's fine");  // unbalanced quote: inih's own rule
  CHECK(doc.find("job", "plain")->value == "a;b");
  CHECK(doc.find("job", "escaped")->value == "'it'\\''s' 'a ;b' \\'");
}

TEST_CASE("values longer than inih's line buffer are read whole", "[ini]") {
  std::string args;
  for (int i = 0; i < 400; ++i) args += "--opt" + std::to_string(i) + " \"v ;" + std::to_string(i) + "\" ";
  args.pop_back();
  auto doc = IniDocument::parse("[job]\n  args =  " + args + "   ; trailing\nuser = svc\n[x]\nk:" + std::string(5000, 'v') + "\n",
                                "long.ini");
  REQUIRE(doc.diagnostics().empty());
  REQUIRE(doc.find("job", "args"));
  CHECK(doc.find("job", "args")->value == args);
  CHECK(doc.find("job", "args")->line == 2);
  CHECK(doc.find("job", "user")->value == "svc");
  CHECK(doc.find("x", "k")->value == std::string(5000, 'v'));
}

TEST_CASE("the feeder's stand-in characters are refused in the input", "[ini]") {
  auto doc = IniDocument::parse("[job]\nuser = a\x1f b\n", "c.ini");
  REQUIRE(doc.diagnostics().size() == 1);
  CHECK(doc.diagnostics()[0].format() == "c.ini:2: the line contains a control character (0x1e or 0x1f)");
  CHECK(!doc.find("job", "user"));
}

TEST_CASE("lengths of time in seconds, minutes, hours, days or H:MM:SS", "[ini]") {
  CHECK(parse_duration("90") == 90u);
  CHECK(parse_duration("90s") == 90u);
  CHECK(parse_duration("30m") == 1800u);
  CHECK(parse_duration("2h") == 7200u);
  CHECK(parse_duration("1d") == 86400u);
  CHECK(parse_duration("1:30:05") == 5405u);
  CHECK(parse_duration("0:00:00") == 0u);
  for (const char* bad : {"", "h", "1.5h", "-1", "1:3:00", "1:60:00", "1:00", "1:00:60", "99999999999d",
                          "18446744073709551615", "1h30m"})
    CHECK(!parse_duration(bad));
  auto doc = IniDocument::parse("[s]\nt = soon\n", "d.ini");
  ConfigReader r(doc);
  CHECK(r.get_duration("s", "t", 60) == 60);
  auto d = formatted(r.finish());
  REQUIRE(d.size() == 1);
  CHECK(d[0] == "d.ini:2: [s] t: \"soon\" is not a length of time: seconds, or a number with s, m, h or d, or H:MM:SS");
}
