// The status page, server-rendered and light: no framework, no script, no external fetch.
// The overview lists the nodes, fresh ones first and stale ones apart, a page at a time, with
// sparklines of the last hour; a node's own page shows its domains, jobs, guest routes and RDMA
// ports from its newest report, and its day. See smartvm-frontend(8), "THE STATUS PAGE".
#pragma once

#include "host_sample.hpp"
#include "node_store.hpp"

#include <boost/json/value.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace smartvm::frontend {

inline constexpr size_t kNodesPerPage = 100;

// The nodes on page `page` (from 0): fresh ones first, then stale ones, each by name.
std::vector<const NodeRow*> nodes_on_page(const std::vector<NodeRow>& all, size_t page, size_t per_page = kNodesPerPage);

// `all`: every node; `hours`: the last hour of the page's nodes, by name.
std::string overview_html(const std::vector<NodeRow>& all, const std::map<std::string, std::vector<HostSample>>& hours,
                          int64_t now, size_t page, size_t per_page = kNodesPerPage);

// `report`: the node's newest report as stored; `day`: its history of the last day.
std::string node_html(const NodeRow& node, const boost::json::value& report, const std::vector<HostSample>& day,
                      int64_t now);

// What the overview shows of a report besides its history, made once when it is stored.
std::string page_summary(const NodeReport& r);

// "1 node", "2 nodes"; "12 s ago", "3 min ago", "5 h ago", "2 days ago".
std::string count_of(size_t n, const std::string& singular, const std::string& plural);
std::string ago(int64_t seconds);
std::string html_escape(const std::string& s);

}  // namespace smartvm::frontend
