// One job request carried out on this node, in the order that leaves nothing behind on any
// path: libvirt reached (with libvirtd down nothing is made), the job's directory made
// exclusively, the ISO and overlay prepared, the domain created and supervised to its end, the
// outcome printed, then the domain and the files gone. Returns smartvm-run's exit status.
#pragma once

#include "domain_xml.hpp"
#include "job_request.hpp"
#include "run_options.hpp"
#include "service_catalog.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <chrono>
#include <string>

namespace smartvm::launcher {

// The job's domain, its files in `dir`.
DomainPlan plan_for(const Service& s, const JobRequest& request, const std::string& dir);

// `signals` (SIGTERM, SIGINT) is held from smartvm-run's start: a signal that came before the
// domain exists stops the job before anything runs.
int launch_job(const Service& s, const JobRequest& request, const RunOptions& o, boost::asio::io_context& io,
               boost::asio::signal_set& signals, std::chrono::steady_clock::time_point requested);

}  // namespace smartvm::launcher
