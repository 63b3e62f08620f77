#include "status_record.hpp"

#include "catch_result.hpp"

using namespace smartvm;

TEST_CASE("a status record survives formatting and parsing", "[status]") {
  StatusRecord r;
  r.state = JobState::signaled;
  r.exit_code = 139;
  r.signal = "SIGSEGV";
  r.core_dumped = true;
  r.started_at = parse_utc("2026-11-22T02:00:00Z");
  r.finished_at = parse_utc("2026-11-22T02:10:00Z");
  r.wall_seconds = 600.123;
  r.user_cpu_seconds = 590.1;
  r.system_cpu_seconds = 3.2;
  r.max_rss_kib = 123456;
  r.memory_peak_kib = 130000;
  r.oom_kills = 1;
  r.leftover_processes = 2;
  r.stdout_truncated = true;
  r.output_error = "stderr: No space left on device";
  r.containment = "cgroup";
  r.record_tampered = ".exit_status.0badc0de was replaced by a symbolic link";
  r.error = "line one\nline two";
  r.agent_version = "0.1.0";
  std::string text = format_status(r);
  CHECK(text.find("state=signaled\nexit_code=139\nsignal=SIGSEGV\ncore_dumped=1\nstarted_at=2026-11-22T02:00:00Z\n") == 0);
  CHECK(text.find("error=line one line two\n") != std::string::npos);  // one line, no forged keys
  auto back = parse_status(text);
  REQUIRE(back);
  CHECK(back->state == r.state);
  CHECK(back->exit_code == 139);
  CHECK(back->signal == "SIGSEGV");
  CHECK(back->core_dumped);
  CHECK(back->started_at == r.started_at);
  CHECK(back->finished_at == r.finished_at);
  CHECK(back->wall_seconds == Approx(600.123));
  CHECK(back->max_rss_kib == 123456);
  CHECK(back->memory_peak_kib == 130000u);
  CHECK(back->oom_kills == 1);
  CHECK(back->leftover_processes == 2);
  CHECK(back->stdout_truncated);
  CHECK(!back->stderr_truncated);
  CHECK(back->output_error == r.output_error);
  CHECK(back->record_tampered == r.record_tampered);
  CHECK(back->error == "line one line two");
}

TEST_CASE("a setup failure has no exit code and no times", "[status]") {
  StatusRecord r;
  r.error = "mount repository: gave up";
  auto back = parse_status(format_status(r));
  REQUIRE(back);
  CHECK(back->state == JobState::setup_failed);
  CHECK(!back->exit_code);
  CHECK(!back->started_at);
}

TEST_CASE("malformed status files are refused", "[status]") {
  CHECK(parse_status("state=exploded\n").error().message == "state: \"exploded\" is not a known state");
  CHECK(parse_status("state=failed\nexit_code=x\n").error().message == "exit_code: not a number");
  CHECK(parse_status("state=failed\nnoequals\n").error().message == "line 2: expected key=value");
  CHECK(parse_status("state=failed\nstate=failed\n").error().message == "line 2: key given twice");
  CHECK(!parse_status("state=failed\nstarted_at=yesterday\n"));
  CHECK(!parse_status("state=failed\nstarted_at=99999999-01-01T00:00:00Z\n"));  // found by fuzzing
  CHECK(!parse_utc("1969-12-31T23:59:59Z"));
  CHECK(parse_status("state=failed\nwall_seconds=-1\n").error().message == "wall_seconds: \"-1\" is not a number of seconds");
  CHECK(!parse_status("state=failed\nuser_cpu_seconds=inf\n"));
  CHECK(!parse_status("state=failed\nuser_cpu_seconds=nan\n"));
}

TEST_CASE("huge durations are written in full, not cut", "[status]") {
  StatusRecord r;
  r.user_cpu_seconds = 5.9e97;
  std::string once = format_status(r);
  CHECK(format_status(*parse_status(once)) == once);
}
