// nodeld as a daemon: one Asio loop drives the collection timer, report delivery, /metrics,
// the control object on the system bus, SIGHUP reloads and systemd's notify protocol. The
// sources run on worker threads (collector.hpp) and post their answers back to this loop; the
// routing and throttling modules plug in here and react to the same snapshot and domain events.
#pragma once

#include "arp_watcher.hpp"
#include "collector.hpp"
#include "control_bus.hpp"
#include "guest_router.hpp"
#include "http_server.hpp"
#include "job_reaper.hpp"
#include "log.hpp"
#include "libvirt_source.hpp"
#include "link_watcher.hpp"
#include "nodeld_config.hpp"
#include "rdma_source.hpp"
#include "report_sender.hpp"
#include "repository_probe.hpp"
#include "throttler.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>
#include <mutex>
#include <string>

namespace smartvm::nodeld {

struct DaemonOptions {
  std::string config_path;
  bool control_bus = true;  // off for --once
  bool act = true;  // routing and throttling; off for --once: a report must not change the host
  // Where RDMA ports come from (given [node] sysfs_root); sysfs and libibverbs unless a test
  // gives a fake.
  std::function<std::unique_ptr<RdmaDevices>(const std::string&)> rdma_devices = make_host_devices;
};

class Daemon : public HttpHandler {
 public:
  Daemon(boost::asio::io_context& io, NodeldConfig config, DaemonOptions options);
  ~Daemon() override;

  // Listens, joins the bus, starts the cycle timer and signal handling.
  Result<void> start();
  // One cycle; `done` gets the report's JSON text (for --once).
  void collect_once(std::function<void(const std::string&)> done);
  // Reads the configuration file again; a bad one is refused (logged, returned) and the old
  // one stays.
  Result<void> reload();
  void stop();
  // Whether a source's job still runs (nodeld then exits without waiting for it).
  bool sources_busy() const {
    return collector_.any_busy() || (throttler_ && throttler_->busy()) || job_reaper_.busy();
  }

 private:
  HttpResponse handle(const HttpRequest& req, int64_t now) override;
  HttpResponse refuse_oversized(unsigned version, bool keep_alive) override;
  size_t body_limit() const override { return 0; }

  void apply(const NodeldConfig& old);
  // The source a reload may swap at any time, as a worker thread takes it for one cycle.
  template <typename Source>
  std::shared_ptr<Source> current(const std::shared_ptr<Source>& source) {
    std::lock_guard lock(sources_mutex_);
    return source;
  }
  Result<void> listen_metrics();
  void wait_signal();
  void schedule_cycle();
  void cycle(std::function<void(const std::string&)> then = nullptr, bool reschedule = true);
  void on_snapshot(Snapshot s);
  void on_domain_event(const DomainEvent& ev);
  // latest_ changed: its JSON and Prometheus text are made again when next asked for.
  void publish();
  const std::string& report();
  const std::string& metrics();
  // Brings the guests' routes in line with the configuration (at start and every cycle).
  void route_guests();
  void publish_routing();  // the newest reconcile into the report between cycles
  void publish_throttle();  // the limits nodeld applied, into the report
  void probe();             // the repository, once per cycle
  // Destroys job domains whose smartvm-run is gone and removes their directories and leftover
  // ones (at start and every cycle, only when acting), from the snapshot just made.
  void clean_up_jobs();
  bool cleaning_jobs() const;
  void watchdog();
  void notify(const std::string& state);

  boost::asio::io_context& io_;
  NodeldConfig config_;
  DaemonOptions options_;

  // Sources: swapped on reload under the mutex, used by the worker threads through copies.
  std::mutex sources_mutex_;
  std::shared_ptr<HostStatsSource> host_;
  std::shared_ptr<LibvirtSource> libvirt_;
  std::shared_ptr<LibvirtBlockTune> block_tune_;  // the throttle's, on libvirt_'s connection
  std::shared_ptr<RdmaSource> rdma_;

  Collector collector_;
  ReportSender sender_;
  std::unique_ptr<HttpServer> metrics_server_;
  std::unique_ptr<ControlBus> bus_;
  boost::asio::steady_timer cycle_timer_;
  boost::asio::steady_timer watchdog_timer_;
  boost::asio::signal_set signals_;
  std::chrono::microseconds watchdog_usec_{0};

  std::optional<SystemHostNet> host_net_;
  std::unique_ptr<LinkWatcher> link_watcher_;
  std::unique_ptr<ArpWatcher> arp_watcher_;  // while guest addresses are learned
  bool arp_error_ = false;                   // said once: no packet socket
  GuestRouter router_;
  std::optional<RoutingStatus> routing_;
  std::string routing_error_;  // for the report
  log::Condition routing_condition_{"routing", log::Level::warning};
  std::optional<ProbeResult> repository_;
  std::unique_ptr<Throttler> throttler_;
  std::map<std::string, log::Condition> throttle_conditions_;  // by subject (Throttler::problems)
  JobReaper job_reaper_;
  uint64_t jobs_cleaned_ = 0;
  log::Condition jobs_condition_{"job cleanup", log::Level::warning};

  uint64_t seq_ = 0;
  Snapshot latest_;
  // latest_ as JSON and as Prometheus text, made on demand: a 1000-domain snapshot takes about
  // a millisecond to write out, and /metrics is scraped less often than reports are made.
  std::optional<std::string> report_;
  std::optional<std::string> metrics_;
  bool stopping_ = false;
};

}  // namespace smartvm::nodeld
