#include "daemon.hpp"

#include "log.hpp"
#include "metrics_text.hpp"
#include "report_json.hpp"
#include "utc_time.hpp"

#include <boost/asio/ip/network_v4.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/http/field.hpp>

#include <systemd/sd-daemon.h>

#include <arpa/inet.h>
#include <net/if.h>

#include <algorithm>
#include <set>

namespace smartvm::nodeld {

namespace {

// What the modules have to say (they never log themselves), from any thread.
void say(log::Level level, const std::string& message) { log::write(level, message); }

// What one throttle tick needs of the configuration.
ThrottleSettings throttle_settings(const NodeldConfig& c) {
  ThrottleSettings s;
  s.enabled = c.throttle_enabled;
  s.mode = c.throttle_mode;
  s.defaults = c.throttle_limits;
  s.sections = c.throttle_sections;
  s.backend = c.throttle_backend;
  s.cgroup = c.throttle_cgroup;
  s.params.target_pressure = c.target_io_pressure;
  s.params.step = c.throttle_step / 100.0;
  s.params.relax_after = c.relax_after;
  s.params.floor_bytes_sec = c.floor_bytes_sec;
  s.params.floor_iops_sec = c.floor_iops_sec;
  s.override_foreign = c.override_foreign_limits;
  s.proc_root = c.proc_root;
  s.pressure = c.throttle_pressure.empty() ? c.proc_root + "/pressure/io" : c.throttle_pressure;
  s.domain_pressure = c.domain_pressure;
  s.sysfs_root = c.sysfs_root;
  s.interval = c.interval;
  return s;
}

}  // namespace

namespace asio = boost::asio;
namespace http = boost::beast::http;

Daemon::Daemon(asio::io_context& io, NodeldConfig config, DaemonOptions options)
    : io_(io),
      config_(std::move(config)),
      options_(std::move(options)),
      collector_(io, SourceFunctions{[this] { return current(host_)->collect(); },
                                     [this] { return current(libvirt_)->collect(); },
                                     [this] { return current(rdma_)->collect(); }}),
      sender_(io, say),
      cycle_timer_(io),
      watchdog_timer_(io),
      signals_(io),
      job_reaper_(io) {
  apply(NodeldConfig{});
}

Daemon::~Daemon() = default;

void Daemon::apply(const NodeldConfig& old) {
  bool first = !host_;
  std::lock_guard lock(sources_mutex_);
  if (first || old.proc_root != config_.proc_root) host_ = std::make_shared<HostStatsSource>(config_.proc_root);
  if (first || old.libvirt_uri != config_.libvirt_uri) {
    // One connection for the report's source and the throttle: one conversation at a time.
    auto connection = std::make_shared<LibvirtConnection>(
        config_.libvirt_uri, [this](const DomainEvent& ev) { asio::post(io_, [this, ev] { on_domain_event(ev); }); },
        say);
    libvirt_ = std::make_shared<LibvirtSource>(connection);
    block_tune_ = std::make_shared<LibvirtBlockTune>(connection);
  }
  if (first || old.sysfs_root != config_.sysfs_root)
    rdma_ = std::make_shared<RdmaSource>(options_.rdma_devices(config_.sysfs_root), config_.sysfs_root);
  sender_.configure(config_.frontend, config_.token, config_.post_timeout);
}

Result<void> Daemon::listen_metrics() {
  if (metrics_server_) metrics_server_->stop();
  metrics_server_.reset();
  if (config_.metrics_listen.empty()) return {};
  auto at = parse_listen_address(config_.metrics_listen);
  if (!at) return at.error().context("metrics_listen");
  auto server = std::make_unique<HttpServer>(io_, *this, HttpServerLimits{}, log::to_log());
  auto bound = server->listen(*at);
  if (!bound) return bound.error();
  log::notice("serving /metrics on " + bound->address().to_string() + ":" + std::to_string(bound->port()));
  metrics_server_ = std::move(server);
  return {};
}

Result<void> Daemon::start() {
  if (auto r = listen_metrics(); !r) return r;
  if (options_.control_bus) {
    bus_ = std::make_unique<ControlBus>(io_, ControlBus::Handlers{[this] { return report(); }, [this] { return reload(); }});
    if (auto r = bus_->start(); !r) {
      // A host without a system bus still gets reports and metrics.
      log::warning(r.error().message + "; no control object (GetReport, Reload) on the bus");
      bus_.reset();
    }
  }
  if (options_.act) {
    link_watcher_ = std::make_unique<LinkWatcher>(io_, [this] {
      route_guests();
      publish_routing();
    });
    if (auto r = link_watcher_->start(); !r) {
      log::warning(r.error().message + "; guest interfaces are routed at each interval only");
      link_watcher_.reset();
    }
  }
  if (options_.act) {
    throttler_ = std::make_unique<Throttler>(io_, [this] { return current(block_tune_); },
                                             say);
    throttler_->configure(throttle_settings(config_));
    throttler_->start();
  }
  signals_.add(SIGTERM);
  signals_.add(SIGINT);
  signals_.add(SIGHUP);
  wait_signal();
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) > 0) {
    watchdog_usec_ = std::chrono::microseconds(usec);
    watchdog();
  }
  // READY=1 once the first report is made: from then on GetReport and /metrics have content.
  cycle([this](const std::string&) {
    log::notice("ready: first report made (" + std::to_string(latest_.hypervisor ? latest_.hypervisor->domains.size() : 0) +
                " domains" + (latest_.stale.empty() ? "" : ", some sources stale") + ")");
    notify("READY=1");
  });
  return {};
}

void Daemon::wait_signal() {
  signals_.async_wait([this](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    if (sig == SIGHUP) {
      (void)reload();
      wait_signal();
      return;
    }
    log::notice(std::string("stopping on ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT"));
    stop();
  });
}

void Daemon::stop() {
  if (stopping_) return;
  stopping_ = true;
  notify("STOPPING=1");
  boost::system::error_code ignored;
  cycle_timer_.cancel();
  watchdog_timer_.cancel();
  signals_.cancel(ignored);
  if (metrics_server_) metrics_server_->stop();
  if (throttler_) throttler_->stop();
  bus_.reset();
  io_.stop();
}

Result<void> Daemon::reload() {
  LoadedConfig loaded = load_nodeld_config_file(options_.config_path);
  for (const Diagnostic& d : loaded.diagnostics)
    (d.severity == Diagnostic::Severity::error ? log::error : log::warning)(d.format());
  if (has_errors(loaded.diagnostics)) {
    log::error("reload of " + options_.config_path + " refused; the running configuration stays");
    return make_error(options_.config_path + " has errors; the running configuration stays");
  }
  notify("RELOADING=1");
  NodeldConfig old = std::move(config_);
  config_ = std::move(loaded.config);
  apply(old);
  Result<void> result;
  if (old.metrics_listen != config_.metrics_listen) {
    if (auto r = listen_metrics(); !r) {
      log::error(r.error().message + "; /metrics is off until the next reload");
      result = r;
    }
  }
  if (old.interval != config_.interval) schedule_cycle();
  if (throttler_) {
    throttler_->configure(throttle_settings(config_));
    throttler_->kick();  // new limits apply now, not at the next tick
  }
  route_guests();
  publish_routing();
  probe();
  log::notice("reloaded " + options_.config_path);
  notify("READY=1");
  return result;
}

void Daemon::collect_once(std::function<void(const std::string&)> done) { cycle(std::move(done), false); }

void Daemon::schedule_cycle() {
  if (stopping_) return;
  cycle_timer_.expires_after(config_.interval);
  cycle_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) cycle();
  });
}

void Daemon::probe() {
  if (config_.repository_probe.empty() || !options_.act) {
    repository_.reset();
    return;
  }
  probe_repository(io_, config_.repository_probe, config_.source_deadline(), [this](ProbeResult r) {
    bool was = !repository_ || repository_->reachable;
    if (was != r.reachable) {
      if (r.reachable) log::notice("repository " + r.target + " reachable again");
      else log::warning("repository " + r.target + " unreachable: " + r.error + "; this node is unfit for jobs");
    }
    repository_ = std::move(r);
  });
}

void Daemon::cycle(std::function<void(const std::string&)> then, bool reschedule) {
  probe();
  bool started = collector_.collect(config_.source_deadline(), [this, then](Snapshot s) {
    on_snapshot(std::move(s));
    if (then) then(report());
  });
  if (!started) log::warning("a collection cycle is still running; skipped one");
  if (reschedule) schedule_cycle();
}

void Daemon::route_guests() {
  if (!options_.act || config_.ipoib_mode == IpoibMode::off) {
    routing_.reset();
    routing_error_.clear();
    return;
  }
  if (!host_net_) {
    auto nl = Netlink::open();
    if (!nl) {
      routing_error_ = nl.error().message;
      return;
    }
    host_net_.emplace(std::move(*nl));
  }
  RoutingInput in;
  in.ipoib_interface = config_.ipoib_interface;
  in.guest_patterns = config_.guest_interfaces;
  // First what libvirt says of its running domains, then the configured addresses. Before
  // libvirt has answered once, its guests' routes are unknown, not gone: none is removed.
  in.libvirt_known = latest_.hypervisor.has_value();
  if (latest_.hypervisor)
    for (const DomainStats& d : latest_.hypervisor->domains)
      for (const GuestInterface& g : d.interfaces)
        for (const std::string& text : g.addresses) {
          uint32_t a = 0;
          if (parse_ipv4(text, a)) in.guest_addresses[g.device].push_back(a);
        }
  for (const GuestAddress& g : config_.static_guests) {
    uint32_t a = 0;
    if (parse_ipv4(g.address, a)) in.guest_addresses[g.interface].push_back(a);
  }
  if (!config_.guest_subnet.empty()) {
    boost::system::error_code ec;
    auto net = boost::asio::ip::make_network_v4(config_.guest_subnet, ec);
    if (!ec) {
      in.learn_network = htonl(net.network().to_uint());
      in.learn_prefix = net.prefix_length();
    }
  }
  // The repository's NFS server is never a guest, whatever a guest claims.
  if (uint32_t a = 0; parse_ipv4(config_.repository_probe.substr(0, config_.repository_probe.rfind(':')), a))
    in.reserved.push_back(a);
  if (in.learn_prefix && !arp_watcher_ && !arp_error_) {
    arp_watcher_ = std::make_unique<ArpWatcher>(io_, [this] {
      route_guests();
      publish_routing();
    });
    if (auto r = arp_watcher_->start(); !r) {
      log::warning("routing: " + r.error().message + "; guest addresses are learned from the ARP table only");
      arp_watcher_.reset();
      arp_error_ = true;
    }
  }
  if (arp_watcher_) in.arp_senders = arp_watcher_->senders();
  host_net_->set_sysfs(config_.sysfs_root);
  auto st = router_.reconcile(*host_net_, in);
  std::string error = st ? "" : st.error().message;
  // A host without the IPoIB interface is a host without IPoIB (the shipped configuration
  // names ib0 everywhere), not a broken one, unless guests are configured to be routed here.
  if (st && !st->ipoib_present) {
    bool expected = !config_.static_guests.empty() || !config_.guest_subnet.empty();
    if (expected) {
      error = "IPoIB interface " + config_.ipoib_interface + " not found; guests are not routed";
    } else if (!routing_ || routing_->ipoib_present || routing_->ipoib_interface != config_.ipoib_interface) {
      log::notice("routing: no IPoIB interface " + config_.ipoib_interface + " on this host; guests are not routed (no "
                  "guests or guest_subnet are configured, so the node stays fit for jobs)");
    }
  }
  // A change of state, not every cycle's repeat of it.
  routing_condition_.update(error);
  routing_error_ = error;
  if (!st) return;
  if (arp_watcher_) {
    std::set<int> guests;
    for (const std::string& name : st->guest_interfaces)
      if (unsigned index = if_nametoindex(name.c_str())) guests.insert(int(index));
    arp_watcher_->set_interfaces(std::move(guests));
  }
  if (!error.empty()) return;
  if (st->added || st->removed)
    log::notice("routing: " + std::to_string(st->added) + " guest routes added, " + std::to_string(st->removed) +
                " removed; " + std::to_string(st->routes) + " in place");
  for (const std::string& a : st->reassigned)
    log::notice("routing: " + a + " belongs to a new guest now; its old connection-tracking entries are removed");
  std::vector<std::string> old = routing_ ? routing_->warnings : std::vector<std::string>{};
  for (const std::string& w : st->warnings)
    if (std::find(old.begin(), old.end(), w) == old.end()) log::warning("routing: " + w);
  routing_ = std::move(*st);
}

void Daemon::on_snapshot(Snapshot s) {
  s.node = config_.name;
  s.time = format_utc(std::chrono::system_clock::now());
  s.seq = ++seq_;
  s.interval_seconds = static_cast<uint64_t>(config_.interval.count());
  latest_ = std::move(s);
  // With the domains' addresses just read: a guest libvirt started is routed now.
  route_guests();
  latest_.routing = routing_;
  latest_.routing_error = routing_error_;
  latest_.repository = repository_;
  if (cleaning_jobs()) latest_.jobs_cleaned = jobs_cleaned_;
  publish_throttle();
  if (sender_.configured()) sender_.send(report());
  clean_up_jobs();
  std::string status = "report " + std::to_string(latest_.seq) + ": " +
                       std::to_string(latest_.hypervisor ? latest_.hypervisor->domains.size() : 0) + " domains";
  for (const auto& [source, st] : latest_.stale) status += ", " + source + " stale";
  if (sender_.in_outage()) status += ", frontend unreachable";
  notify("STATUS=" + status);
}

void Daemon::on_domain_event(const DomainEvent& ev) {
  log::info("domain " + ev.name + " " + ev.event);
  // A domain that started may bring guest interfaces and addresses (its XML): collect now
  // rather than at the next interval, so that its route is there when its network comes up.
  if (ev.event == "started" && !stopping_ && !collector_.collecting() && options_.control_bus) {
    cycle_timer_.cancel();
    cycle();
  }
  // Its disks get their limits before the guest does much I/O.
  if (ev.event == "started" && throttler_) throttler_->kick();
  if (!latest_.hypervisor) return;
  auto& domains = latest_.hypervisor->domains;
  auto it = std::find_if(domains.begin(), domains.end(), [&](const DomainStats& d) { return d.name == ev.name; });
  if (ev.event == "undefined") {
    if (it != domains.end()) domains.erase(it);
  } else if (it != domains.end()) {
    if (!ev.state.empty()) it->state = ev.state;
  } else {
    // New since the last cycle: known by name and state until the next cycle fills it in.
    DomainStats d;
    d.name = ev.name;
    d.uuid = ev.uuid;
    d.state = ev.state.empty() ? "nostate" : ev.state;
    domains.insert(std::upper_bound(domains.begin(), domains.end(), d,
                                    [](const DomainStats& a, const DomainStats& b) { return a.name < b.name; }),
                   std::move(d));
  }
  publish();
}

bool Daemon::cleaning_jobs() const { return options_.act && config_.jobs_cleanup; }

void Daemon::clean_up_jobs() {
  // Only from a fresh list of domains: one libvirt did not give this cycle may be gone or new.
  if (!cleaning_jobs() || !latest_.hypervisor || latest_.stale.count("libvirt")) return;
  std::vector<JobDomainRef> domains;
  for (const DomainStats& d : latest_.hypervisor->domains)
    if (d.job)
      domains.push_back(JobDomainRef{d.name, d.uuid, d.state != "shutoff" && d.state != "crashed", d.job->meta,
                                     d.job->file_sources});
  CleanupSettings settings{config_.jobs_runtime_dir};
  job_reaper_.start(current(libvirt_)->connection(), std::move(settings), std::move(domains), [this](CleanupOutcome o) {
    for (const std::string& line : o.done) log::notice("job cleanup: " + line);
    std::string problems;
    for (const std::string& p : o.problems) problems += (problems.empty() ? "" : "; ") + p;
    jobs_condition_.update(problems);
    if (o.cleaned) {
      jobs_cleaned_ += o.cleaned;
      latest_.jobs_cleaned = jobs_cleaned_;
      publish();
    }
  });
}

void Daemon::publish_routing() {
  latest_.routing = routing_;
  latest_.routing_error = routing_error_;
  publish();
}

void Daemon::publish_throttle() {
  if (throttler_) {
    auto problems = throttler_->problems();
    for (const auto& [subject, problem] : problems)
      throttle_conditions_.try_emplace(subject, subject, subject == "throttle" ? log::Level::info : log::Level::warning)
          .first->second.update(problem);
    // The throttle well again is said; a guest's problem that is gone (the guest with it, or
    // its file appeared) is not.
    if (!problems.count("throttle"))
      if (auto it = throttle_conditions_.find("throttle"); it != throttle_conditions_.end()) it->second.update("");
    std::erase_if(throttle_conditions_,
                  [&](const auto& entry) { return entry.first != "throttle" && !problems.count(entry.first); });
  }
  latest_.io_pressure_target = throttler_ ? throttler_->adaptive_target() : std::nullopt;
  if (throttler_ && latest_.hypervisor) {
    auto applied = throttler_->applied();
    auto pressure = throttler_->guest_pressure();
    auto states = throttler_->states();
    for (DomainStats& d : latest_.hypervisor->domains) {
      auto st = states.find(d.name);
      if (st != states.end()) d.throttle_state = st->second;
      else d.throttle_state.reset();
      auto it = applied.find(d.name);
      if (it != applied.end()) d.throttle = it->second;
      else d.throttle.reset();
      auto p = pressure.find(d.name);
      if (p != pressure.end()) d.io_pressure = p->second;
      else d.io_pressure.reset();
    }
  }
  publish();
}

void Daemon::publish() {
  report_.reset();
  metrics_.reset();
}

const std::string& Daemon::report() {
  if (!report_) report_ = report_text(latest_);
  return *report_;
}

const std::string& Daemon::metrics() {
  if (!metrics_) metrics_ = metrics_text(latest_);
  return *metrics_;
}

void Daemon::watchdog() {
  // From the main loop itself: a loop that stops turning stops the pings, and systemd restarts it.
  notify("WATCHDOG=1");
  watchdog_timer_.expires_after(watchdog_usec_ / 2);
  watchdog_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) watchdog();
  });
}

void Daemon::notify(const std::string& state) { sd_notify(0, state.c_str()); }

HttpResponse Daemon::handle(const HttpRequest& req, int64_t) {
  HttpResponse res(http::status::ok, req.version());
  res.keep_alive(req.keep_alive());
  std::string_view target = req.target();
  if (target.substr(0, target.find('?')) != "/metrics") {
    res.result(http::status::not_found);
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.body() = "nodeld serves /metrics only\n";
  } else if (req.method() != http::verb::get && req.method() != http::verb::head) {
    res.result(http::status::method_not_allowed);
    res.set(http::field::allow, "GET, HEAD");
  } else {
    res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    res.body() = metrics() + sender_.metrics_text();
  }
  res.prepare_payload();
  return res;
}

HttpResponse Daemon::refuse_oversized(unsigned version, bool keep_alive) {
  HttpResponse res(http::status::payload_too_large, version);
  res.keep_alive(keep_alive);
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  res.body() = "nodeld takes no request bodies\n";
  res.prepare_payload();
  return res;
}

}  // namespace smartvm::nodeld
