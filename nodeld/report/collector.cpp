#include "collector.hpp"

#include <boost/asio/steady_timer.hpp>

namespace smartvm::nodeld {

namespace asio = boost::asio;

struct Collector::Cycle {
  explicit Cycle(asio::io_context& io) : deadline(io) {}
  asio::steady_timer deadline;
  int pending = 0;
  bool finished = false;
  std::function<void(Snapshot)> done;
};

Collector::Collector(asio::io_context& io, SourceFunctions sources) : io_(io), sources_(std::move(sources)) {}

bool Collector::collecting() const { return running_ && !running_->finished; }

bool Collector::any_busy() const { return host_.worker.busy() || hypervisor_.worker.busy() || rdma_.worker.busy(); }

template <typename T>
void Collector::start(const char* name, Slot<T>& slot, std::function<Result<T>()>& fn,
                      const std::shared_ptr<Cycle>& cycle) {
  slot.answered = false;
  slot.busy_reason.clear();
  if (!fn) return;
  bool started = slot.worker.run(io_, [this, name, &slot, &fn, cycle] {
    auto result = std::make_shared<Result<T>>(guarded(std::string(name) + " source", fn));
    return [this, &slot, cycle, result] {
      if (result->has_value()) {
        slot.last_good = std::move(result->value());
        slot.last_good_at = std::chrono::system_clock::now();
        slot.error.clear();
      } else {
        slot.error = result->error().message;
      }
      if (cycle->finished) return;  // too late for its cycle; kept for the next one
      slot.answered = true;
      if (--cycle->pending == 0) finish(cycle);
    };
  });
  if (started) {
    ++cycle->pending;
  } else {
    auto busy_for = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - slot.worker.started());
    slot.busy_reason = std::string(name) + " source still busy with a request made " + std::to_string(busy_for.count()) + " s ago";
  }
}

bool Collector::collect(std::chrono::milliseconds deadline, std::function<void(Snapshot)> done) {
  if (running_ && !running_->finished) return false;
  auto cycle = std::make_shared<Cycle>(io_);
  cycle->done = std::move(done);
  running_ = cycle;
  start("host", host_, sources_.host, cycle);
  start("libvirt", hypervisor_, sources_.hypervisor, cycle);
  start("rdma", rdma_, sources_.rdma, cycle);
  if (cycle->pending == 0) {
    asio::post(io_, [this, cycle] { finish(cycle); });
    return true;
  }
  cycle->deadline.expires_after(deadline);
  cycle->deadline.async_wait([this, cycle](const boost::system::error_code& ec) {
    if (!ec) finish(cycle);  // whoever has not answered is late: settle() says so
  });
  return true;
}

template <typename T>
void Collector::settle(const char* name, Slot<T>& slot, Snapshot& s, std::optional<T>& out) {
  out = slot.last_good;
  bool fresh = slot.answered && slot.error.empty();
  if (fresh) return;
  Staleness st;
  if (!slot.busy_reason.empty()) st.error = slot.busy_reason;
  else if (!slot.answered) st.error = "no answer within the deadline";
  else st.error = slot.error;
  if (slot.last_good_at)
    st.age_seconds = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now() - *slot.last_good_at).count();
  s.stale[name] = std::move(st);
}

void Collector::finish(const std::shared_ptr<Cycle>& cycle) {
  if (cycle->finished) return;
  cycle->finished = true;
  cycle->deadline.cancel();
  Snapshot s;
  if (sources_.host) settle("host", host_, s, s.host);
  if (sources_.hypervisor) settle("libvirt", hypervisor_, s, s.hypervisor);
  if (sources_.rdma) settle("rdma", rdma_, s, s.rdma);
  cycle->done(std::move(s));
}

}  // namespace smartvm::nodeld
