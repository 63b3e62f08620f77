#include "iso_image_writer.hpp"

#include "durable_file.hpp"
#include "unique_fd.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string_view>

// libisofs's header carries a copy of libburn's struct burn_source, the image's reader.
#define LIBISOFS_WITHOUT_LIBBURN 1
#include <libisofs.h>

namespace smartvm::tools {
namespace {

constexpr int kBlock = 2048;        // libisofs hands the image out in whole blocks
constexpr int kChunk = 32 * kBlock;  // and this many per read and write here
constexpr std::string_view kCausedBy = " > Caused by: ";

// libisofs's API takes char* for strings it does not change.
char* text(const char* s) { return const_cast<char*>(s); }

Result<void> init_libisofs() {
  static const int status = [] {
    // bit0: the process's locale stays as it is; names are taken as UTF-8 whatever it says.
    int r = iso_init_with_flag(1);
    if (r < 0) return r;
    iso_set_local_charset(text("UTF-8"), 0);
    // Everything is queued, nothing printed: queued_problem() makes the error of it.
    iso_set_msgs_severities(text("ALL"), text("NEVER"), text("libisofs: "));
    // SORRY and worse stop the image at once, as they made xorriso fail: otherwise libisofs
    // leaves out a directory it cannot open (SORRY) and fills a file it cannot read with zeros
    // (MISHAP). Should it go on regardless, copy_image() still fails on what it queued.
    return iso_set_abort_severity(text("SORRY"));
  }();
  if (status < 0) return make_error(std::string("initialise libisofs: ") + iso_error_to_msg(status));
  return {};
}

// Empties libisofs's queue and says the first problem in it (severity SORRY or worse), with
// the file it came from (libisofs queues that name apart, as an ERRFILE message) and the
// cause it gave. Empty when there was none.
std::string queued_problem() {
  int sorry = 0;
  iso_text_to_sev(text("SORRY"), &sorry);
  std::string file, problem, cause;
  bool cause_pending = false;
  int code = 0, image_id = 0;
  char message[ISO_MSGS_MESSAGE_LEN];
  char severity[80];
  while (iso_obtain_msgs(text("ALL"), &code, &image_id, message, severity) == 1) {
    std::string_view m = message;
    int rank = 0;
    iso_text_to_sev(severity, &rank);
    bool is_cause = m.starts_with(kCausedBy);
    if (std::string_view(severity) == "ERRFILE") {
      if (file.empty()) file = m;
    } else if (is_cause && cause_pending) {
      cause = m.substr(kCausedBy.size());
    } else if (!is_cause && rank >= sorry && problem.empty()) {
      problem = m;
      cause_pending = true;
      continue;
    }
    cause_pending = false;
  }
  if (problem.empty()) return "";
  if (!file.empty()) return file + ": " + (cause.empty() ? problem : cause);
  return cause.empty() ? problem : problem + " (" + cause + ")";
}

Error failure(const std::string& what, int code) {
  std::string said = queued_problem();
  return make_error(what + ": " + (said.empty() ? iso_error_to_msg(code) : said));
}

struct ImageUnref {
  void operator()(IsoImage* image) const { iso_image_unref(image); }
};
struct OptsFree {
  void operator()(IsoWriteOpts* opts) const { iso_write_opts_free(opts); }
};
// Stops libisofs's writer thread if the image was not read to its end, and joins it.
struct SourceFree {
  void operator()(burn_source* source) const {
    source->free_data(source);
    free(source);
  }
};

// The image under a temporary name in the output's directory until it is complete.
class TempImage {
 public:
  TempImage(int dirfd, std::pair<int, std::string> file) : dirfd_(dirfd), fd_(file.first), name_(file.second) {}
  TempImage(const TempImage&) = delete;
  TempImage& operator=(const TempImage&) = delete;
  ~TempImage() {
    if (!name_.empty()) unlinkat(dirfd_, name_.c_str(), 0);
  }
  int fd() const { return fd_.get(); }
  const std::string& name() const { return name_; }
  Result<void> rename_to(const std::string& name, const std::string& output) {
    if (renameat(dirfd_, name_.c_str(), dirfd_, name.c_str()) != 0) return os_error("rename " + name_ + " to " + output);
    name_.clear();
    return {};
  }

 private:
  int dirfd_;  // not owned
  UniqueFd fd_;
  std::string name_;
};

Result<void> add_entries(IsoImage* image, const std::vector<IsoRootEntry>& entries) {
  IsoDir* root = iso_image_get_root(image);
  for (const IsoRootEntry& e : entries) {
    IsoNode* node = nullptr;
    int r = iso_tree_add_new_node(image, root, e.name.c_str(), e.path.c_str(), &node);
    if (r >= 0 && iso_node_get_type(node) == LIBISO_DIR)
      r = iso_tree_add_dir_rec(image, reinterpret_cast<IsoDir*>(node), e.path.c_str());
    if (r < 0) {
      // libisofs's message names the file (maybe one deep inside e.path); its code alone does not.
      std::string said = queued_problem();
      return make_error(said.empty() ? e.path + ": " + iso_error_to_msg(r) : said);
    }
  }
  return {};
}

// The options `xorriso -as mkisofs -J -R` writes with (xorriso(1): -compliance's defaults,
// and -padding 300k counted in the image under mkisofs emulation).
Result<std::unique_ptr<IsoWriteOpts, OptsFree>> xorriso_options() {
  IsoWriteOpts* raw = nullptr;
  if (int r = iso_write_opts_new(&raw, 0); r < 0) return make_error(iso_error_to_msg(r));
  std::unique_ptr<IsoWriteOpts, OptsFree> opts(raw);
  iso_write_opts_set_iso_level(raw, 1);
  iso_write_opts_set_allow_dir_id_ext(raw, 1);      // -as mkisofs: "DIR.EXT" as mkisofs writes it
  iso_write_opts_set_rockridge(raw, 1);
  iso_write_opts_set_joliet(raw, 1);
  iso_write_opts_set_rrip_version_1_10(raw, 1);     // old_rr
  iso_write_opts_set_omit_version_numbers(raw, 2);  // only_iso_version: no ";1" in Joliet
  iso_write_opts_set_allow_deep_paths(raw, 1);      // deep_paths
  iso_write_opts_set_allow_longer_paths(raw, 1);    // long_paths
  iso_write_opts_set_no_force_dots(raw, 2);         // no_j_force_dots
  iso_write_opts_set_always_gmt(raw, 1);            // always_gmt
  iso_write_opts_set_dir_rec_mtime(raw, 1);         // rec_mtime
  iso_write_opts_set_tail_blocks(raw, 150);         // 300 KiB of padding
  return opts;
}

// Reads the image from libisofs's writer thread and writes it at the start of `fd`.
Result<void> copy_image(burn_source* source, int fd, const std::string& what) {
  const off_t size = source->get_size(source);
  std::vector<unsigned char> buffer(kChunk);
  off_t done = 0;
  for (;;) {
    // Up to the announced size; one read more sees the writer's end (EOF, or EOF early on error).
    off_t want = std::min<off_t>(kChunk, size - done);
    int got = source->read_xt(source, buffer.data(), want > 0 ? static_cast<int>(want) : kBlock);
    if (got < 0) return failure(what, ISO_BUF_READ_ERROR);
    if (got == 0) break;
    if (want <= 0) return make_error(what + ": libisofs gave more than the " + std::to_string(size) + " bytes it announced");
    std::string_view data(reinterpret_cast<const char*>(buffer.data()), static_cast<size_t>(got));
    if (auto r = write_all(fd, data, done); !r) return os_error(what, r.error().code.value());
    done += got;
  }
  if (std::string problem = queued_problem(); !problem.empty()) return make_error(what + ": " + problem);
  // 2: the writer ended without error.
  if (done != size || iso_ring_buffer_get_status(source, nullptr, nullptr) != 2)
    return make_error(what + ": libisofs stopped after " + std::to_string(done) + " of " + std::to_string(size) + " bytes");
  return {};
}

}  // namespace

Result<void> write_iso_image(const std::string& label, const std::vector<IsoRootEntry>& entries,
                             const std::string& output) {
  const std::string what = "write " + output;
  if (auto r = init_libisofs(); !r) return r.error().context(what);
  (void)queued_problem();  // what an earlier image left there is not this one's

  std::filesystem::path path(output);
  std::string name = path.filename().string();
  std::string dir = path.has_parent_path() ? path.parent_path().string() : ".";
  if (name.empty() || name == "." || name == "..") return make_error(what + ": not a file name");
  UniqueFd dirfd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dirfd.valid()) return os_error(what);
  auto temp_file = create_hidden_temp(dirfd.get(), name, 0666);
  if (!temp_file) return temp_file.error().context(what);
  TempImage temp(dirfd.get(), *temp_file);

  IsoImage* raw_image = nullptr;
  if (int r = iso_image_new(nullptr, &raw_image); r < 0) return failure(what, r);
  std::unique_ptr<IsoImage, ImageUnref> image(raw_image);
  iso_image_set_volume_id(image.get(), label.c_str());
  // Stated although they are libisofs's defaults: xorriso's -R keeps links as links, and
  // hidden and special files too.
  iso_tree_set_follow_symlinks(image.get(), 0);
  iso_tree_set_ignore_hidden(image.get(), 0);
  iso_tree_set_ignore_special(image.get(), 0);
  iso_node_set_permissions(reinterpret_cast<IsoNode*>(iso_image_get_root(image.get())), 0755);  // xorriso's root
  if (auto r = add_entries(image.get(), entries); !r) return r.error().context(what);

  auto opts = xorriso_options();
  if (!opts) return opts.error().context(what);
  burn_source* raw_source = nullptr;
  if (int r = iso_image_create_burn_source(image.get(), opts->get(), &raw_source); r < 0) return failure(what, r);
  std::unique_ptr<burn_source, SourceFree> source(raw_source);
  if (auto r = copy_image(source.get(), temp.fd(), what); !r) return r;
  return temp.rename_to(name, output);
}

}  // namespace smartvm::tools
