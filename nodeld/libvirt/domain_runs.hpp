// What nodeld reads once per run of a domain (its XML, the throttle's metadata), kept between
// cycles by the domain's name, the one thing of a stats record's domain libvirt gives without
// cost. A run is a (uuid, id) pair: the id changes at every start, the uuid only when the name
// is undefined and defined again. Asking a virDomainPtr for either (virDomainGetUUID[String],
// virDomainGetID) formats its UUID for libvirt's debug log, logging or not: about 0.35 µs a
// call, which made those calls a third of a 1000-domain cycle when made every cycle.
//
// So the identity is checked only when the domain may be another run:
//  - new to the cache;
//  - libvirt said it started or was undefined (DomainMarks, from lifecycle events);
//  - its state went from active to inactive or back, or its CPU time went backwards (the
//    stats record's own fields: a restart that came between two cycles);
//  - the connection is new, or has no lifecycle events (what was missed is unknown).
// A check that finds the same uuid and id keeps the facts; another run reads them again.
// Without any of those signs (a restart whose event libvirt has not delivered yet when the
// cycle runs, its CPU time not behind) the next cycle sees the mark. Pure: no libvirt here.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>

namespace smartvm::nodeld {

struct DomainIdentity {
  std::string uuid;
  int id = -1;  // -1: inactive
  bool operator==(const DomainIdentity&) const = default;
};

// What this cycle's stats record says of a domain, for the signs of another run.
struct RunSigns {
  bool active = false;  // neither shut off nor crashed
  std::optional<double> cpu_seconds;  // cpu.time, where the driver gives it
};

// Names of domains libvirt marked (lifecycle or TUNABLE events, on libvirt's thread), taken by
// one reader at the start of its cycle.
class DomainMarks {
 public:
  void mark(const std::string& name) {
    std::lock_guard lock(mutex_);
    names_.insert(name);
  }
  std::set<std::string> take() {
    std::set<std::string> out;
    std::lock_guard lock(mutex_);
    out.swap(names_);
    return out;
  }

 private:
  std::mutex mutex_;
  std::set<std::string> names_;
};

template <typename Facts>
class DomainRuns {
 public:
  struct Run {
    DomainIdentity identity;
    Facts facts;
  };

  // At a cycle's start: what the connection `generation` has not read, or what happened while
  // there were no events (`events` false), and the domains `marked` are checked again.
  void begin(uint64_t generation, bool events, const std::set<std::string>& marked) {
    ++cycle_;
    bool all = generation != generation_ || !events;
    generation_ = generation;
    if (all)
      for (auto& [name, entry] : runs_) entry.suspect = true;
    else
      for (const std::string& name : marked)
        if (auto it = runs_.find(name); it != runs_.end()) it->second.suspect = true;
  }

  // This cycle's run of `name`: the cached one when nothing suggests another run; otherwise
  // `identify()` (the libvirt calls) says which run it is, and `read(identity)` its facts when
  // the run is not the cached one.
  template <typename Identify, typename Read>
  Run& get(const std::string& name, const RunSigns& signs, Identify&& identify, Read&& read) {
    auto it = runs_.find(name);
    if (it == runs_.end()) {
      DomainIdentity id = identify();
      Facts facts = read(id);
      it = runs_.emplace(name, Entry{Run{std::move(id), std::move(facts)}, signs, false, cycle_}).first;
      ++reads_;
      return it->second.run;
    }
    Entry& e = it->second;
    bool restarted = e.signs.active != signs.active ||
                     (signs.cpu_seconds && e.signs.cpu_seconds && *signs.cpu_seconds < *e.signs.cpu_seconds);
    if (e.suspect || restarted) {
      DomainIdentity id = identify();
      ++checks_;
      if (!(id == e.run.identity)) {
        Facts facts = read(id);
        e.run = Run{std::move(id), std::move(facts)};
        ++reads_;
      }
      e.suspect = false;
    }
    e.signs = signs;
    e.cycle = cycle_;
    return e.run;
  }

  // The cached run of `name`, if any (for a change made by nodeld itself).
  Run* find(const std::string& name) {
    auto it = runs_.find(name);
    return it == runs_.end() ? nullptr : &it->second.run;
  }

  // At a cycle's end: the domains this cycle did not list are gone.
  void end() {
    std::erase_if(runs_, [&](const auto& entry) { return entry.second.cycle != cycle_; });
  }

  void clear() { runs_.clear(); }
  size_t size() const { return runs_.size(); }
  // Identities asked of libvirt again, and facts read, since the cache was made (for tests).
  uint64_t checks() const { return checks_; }
  uint64_t reads() const { return reads_; }

 private:
  struct Entry {
    Run run;
    RunSigns signs;
    bool suspect = false;
    uint64_t cycle = 0;
  };
  std::unordered_map<std::string, Entry> runs_;
  uint64_t generation_ = 0;
  uint64_t cycle_ = 0;
  uint64_t checks_ = 0, reads_ = 0;
};

}  // namespace smartvm::nodeld
