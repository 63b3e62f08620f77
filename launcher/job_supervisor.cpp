#include "job_supervisor.hpp"

#include "console_lines.hpp"

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <signal.h>
#include <string.h>

#include <array>
#include <memory>
#include <mutex>

namespace smartvm::launcher {
namespace asio = boost::asio;
using local_socket = asio::local::stream_protocol::socket;
using Clock = std::chrono::steady_clock;

namespace {

// A status record is a few hundred bytes; more is not the agent's.
constexpr size_t kMaxChannelBytes = 64 * 1024;
// After the end event the channel's EOF comes within a millisecond or two (qemu is gone).
constexpr std::chrono::seconds kChannelDrain{2};
// Once the console closed: whether libvirt says the domain ended, asked every 100 ms for 5 s.
constexpr std::chrono::milliseconds kGoneCheckEvery{100};
constexpr int kGoneChecks = 50;

class Supervisor {
 public:
  Supervisor(asio::io_context& io, asio::signal_set& signals, JobDomain& domain, const SupervisionSettings& s)
      : io_(io), signals_(signals), domain_(domain), s_(s), console_(io), status_(io), wall_(io), grace_(io),
        drain_(io), gone_check_(io), pause_(io, SIGTSTP, SIGCONT), lines_(s.job_id) {}

  Supervision run() {
    connect(console_, s_.console_socket, "console");
    connect(status_, s_.status_socket, "status channel");
    // Events come on libvirt's thread; they are handled on this loop. The guard outlives
    // unwatch(): an event in flight then finds no loop to post to.
    auto loop = std::make_shared<LoopRef>(&io_);
    if (auto r = domain_.watch([loop, this](LifecycleEvent e) {
          std::lock_guard lock(loop->mutex);
          if (loop->io) asio::post(*loop->io, [this, e] { on_event(e); });
        });
        !r)
      say("warning: " + r.error().message + "; the job's end is seen when its channel closes");
    if (auto r = domain_.resume(); !r) {
      say(r.error().message);
      result_.view.ended = r.error().message;
      (void)domain_.destroy();
      finish();
    } else {
      result_.resumed = Clock::now();
      result_.view.started_at = StatusRecord::Clock::now();
      read_console();
      read_status();
      arm_wall_time(s_.wall_time);
      wait_signal();
      wait_pause();
    }
    io_.run();
    {
      std::lock_guard lock(loop->mutex);
      loop->io = nullptr;
    }
    domain_.unwatch();
    if (std::string rest = lines_.flush(); !rest.empty()) write_console(rest);
    return result_;
  }

 private:
  struct LoopRef {
    explicit LoopRef(asio::io_context* i) : io(i) {}
    std::mutex mutex;
    asio::io_context* io;
  };

  void say(const std::string& msg) {
    std::fprintf(s_.log, "smartvm-run: job %s: %s\n", s_.job_id.c_str(), msg.c_str());
    std::fflush(s_.log);
  }

  void connect(local_socket& sock, const std::string& path, const char* what) {
    boost::system::error_code ec;
    sock.connect(asio::local::stream_protocol::endpoint(path), ec);
    if (ec) say(std::string("warning: cannot connect to the guest's ") + what + " at " + path + ": " + ec.message());
  }

  void write_console(const std::string& text) {
    std::fwrite(text.data(), 1, text.size(), s_.console_out);
    std::fflush(s_.console_out);
  }

  void read_console() {
    if (!console_.is_open()) return;
    console_.async_read_some(asio::buffer(console_buf_), [this](boost::system::error_code ec, size_t n) {
      if (n && !ended_) result_.console_last = Clock::now();
      if (n) write_console(lines_.feed(std::string_view(console_buf_.data(), n)));
      if (!ec) return read_console();
      // The console closes when qemu goes. The lifecycle event says so first, as a rule; on a
      // libvirtd so loaded that it did not (seen under -j2 with VM builds beside it), the job
      // must still end now, not at its wall time. libvirt marks the domain ended only once it
      // has stopped it (its kill polls qemu's death every 200 ms): asked again for a while.
      confirm_gone(kGoneChecks);
    });
  }

  void confirm_gone(int checks_left) {
    if (ended_) return;
    if (domain_.gone()) return end("the domain ended (its console closed; libvirt sent no lifecycle event)");
    if (checks_left <= 0) return;
    gone_check_.expires_after(kGoneCheckEvery);
    gone_check_.async_wait([this, checks_left](boost::system::error_code ec) {
      if (!ec) confirm_gone(checks_left - 1);
    });
  }

  void read_status() {
    if (!status_.is_open()) return;
    status_.async_read_some(asio::buffer(status_buf_), [this](boost::system::error_code ec, size_t n) {
      if (n) result_.record_came = Clock::now();
      if (result_.view.channel_text.size() + n <= kMaxChannelBytes)
        result_.view.channel_text.append(status_buf_.data(), n);
      if (!ec) return read_status();
      status_closed_ = true;
      if (ended_) finish();
    });
  }

  void wait_signal() {
    signals_.async_wait([this](boost::system::error_code ec, int sig) {
      if (ec || ended_) return;
      if (stopping_) {
        say(std::string("got SIG") + sigabbrev_np(sig) + " again: destroying the domain now");
        destroy();
      } else {
        stop(HostView::Stop::signal, sig);
      }
      wait_signal();
    });
  }

  void arm_wall_time(Clock::duration left) {
    wall_.expires_after(left);
    wall_.async_wait([this](boost::system::error_code ec) {
      if (!ec) stop(HostView::Stop::wall_time, 0);
    });
  }

  // Slurm's suspend: SIGTSTP, then about 2 s later SIGSTOP or the cgroup freezer, which stop
  // smartvm-run but not qemu (libvirtd's child): the domain is paused here, on the TSTP. SIGCONT
  // (resume, and also the first signal of every scancel) lets it run again. The wall time
  // counts only the time the guest could run: its timer is stopped while the domain is paused.
  void wait_pause() {
    pause_.async_wait([this](boost::system::error_code ec, int sig) {
      if (ec || ended_) return;
      if (sig == SIGTSTP) suspend();
      else unsuspend();
      wait_pause();
    });
  }

  void suspend() {
    if (suspended_ || stopping_) return;
    if (auto r = domain_.suspend(); !r) return say("warning: got SIGTSTP: " + r.error().message);
    suspended_ = true;
    suspended_at_ = Clock::now();
    wall_left_ = wall_.expiry() - suspended_at_;
    wall_.cancel();
    say("got SIGTSTP: domain suspended, its wall time stopped");
  }

  void unsuspend() {
    if (!suspended_) return;
    suspended_ = false;
    // A long suspension: libvirtd dropped the connection (it may not be seen as closed yet).
    auto r = domain_.connected() ? domain_.resume_after_suspend() : make_error("the connection to libvirt closed");
    if (!r) {
      say("got SIGCONT: " + r.error().message + "; connecting to libvirt again");
      if (auto c = domain_.reconnect(); !c) say("warning: " + c.error().message);
      r = domain_.resume_after_suspend();
    }
    if (!r) say("warning: got SIGCONT: " + r.error().message);
    if (!stopping_) arm_wall_time(wall_left_);
    say("got SIGCONT: domain resumed after " +
        std::to_string(std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - suspended_at_).count()) +
        " s suspended");
  }

  void stop(HostView::Stop why, int sig) {
    if (stopping_ || ended_) return;
    // A paused guest cannot see the power button.
    unsuspend();
    stopping_ = true;
    result_.view.stop = why;
    result_.view.signal = sig;
    result_.view.wall_time = s_.wall_time;
    say((why == HostView::Stop::wall_time ? "the wall time of " + std::to_string(s_.wall_time.count()) + " s ran out"
                                          : std::string("got SIG") + sigabbrev_np(sig)) +
        ": shutting the domain down (destroyed in " + std::to_string(s_.stop_grace.count()) + " s if it is still there)");
    if (auto r = domain_.shutdown(); !r) {
      say(r.error().message + "; destroying it");
      return destroy();
    }
    grace_.expires_after(s_.stop_grace);
    grace_.async_wait([this](boost::system::error_code ec) {
      if (!ec && !ended_) destroy();
    });
  }

  void destroy() {
    result_.view.destroyed = true;
    // A domain already gone sends no STOPPED event for this destroy.
    if (domain_.gone()) return end("the domain had already ended (libvirt sent no lifecycle event)");
    if (auto r = domain_.destroy(); !r) {
      // libvirtd is gone or refuses: nothing more this run can do about the domain.
      say(r.error().message);
      end(r.error().message);
    }
    // The STOPPED event follows and ends the job.
  }

  void on_event(LifecycleEvent e) {
    // While suspended, and from a connection replaced since: libvirtd dropped smartvm-run
    // while it was stopped, which says nothing of the domain (unsuspend() reconnects).
    if (e.event == kConnectionClosed && (suspended_ || domain_.connected())) return;
    if (!ends_job(e)) return;
    if (!ended_ && !stopping_ && powered_itself_off(e)) result_.guest_powered_off = true;
    end(describe(e));
  }

  void end(const std::string& how) {
    if (ended_) return;
    ended_ = true;
    result_.end_seen = Clock::now();
    result_.view.finished_at = StatusRecord::Clock::now();
    result_.view.ended = how;
    wall_.cancel();
    grace_.cancel();
    // The agent sends its record before it powers off: once whole, the outcome is known now,
    // not when qemu is gone (libvirt takes ~200 ms to see its process end). Else the channel's
    // EOF, which comes when qemu goes, says that nothing more will come.
    if (status_closed_ || !status_.is_open() || record_complete()) return finish();
    drain_.expires_after(kChannelDrain);
    drain_.async_wait([this](boost::system::error_code ec) {
      if (!ec) finish();
    });
  }

  bool record_complete() const {
    const std::string& text = result_.view.channel_text;
    return !text.empty() && text.back() == '\n' && parse_status(text).has_value();
  }

  void finish() {
    if (finished_) return;
    finished_ = true;
    result_.finished = Clock::now();
    boost::system::error_code ignored;
    console_.close(ignored);
    status_.close(ignored);
    wall_.cancel();
    grace_.cancel();
    drain_.cancel();
    gone_check_.cancel();
    signals_.cancel();
    pause_.cancel();
  }

  asio::io_context& io_;
  asio::signal_set& signals_;
  JobDomain& domain_;
  const SupervisionSettings& s_;
  local_socket console_, status_;
  asio::steady_timer wall_, grace_, drain_, gone_check_;
  asio::signal_set pause_;
  ConsoleLines lines_;
  std::array<char, 4096> console_buf_{}, status_buf_{};
  bool stopping_ = false, ended_ = false, status_closed_ = false, finished_ = false, suspended_ = false;
  Clock::time_point suspended_at_;
  Clock::duration wall_left_{};
  Supervision result_;
};

}  // namespace

Supervision supervise_job(asio::io_context& io, asio::signal_set& signals, JobDomain& domain,
                          const SupervisionSettings& settings) {
  return Supervisor(io, signals, domain, settings).run();
}

}  // namespace smartvm::launcher
