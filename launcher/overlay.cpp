#include "overlay.hpp"

#include "captured_run.hpp"

#include <sys/stat.h>
#include <unistd.h>

namespace smartvm::launcher {

Result<void> create_overlay(const OverlayRequest& req) {
  struct stat st {};
  if (lstat(req.overlay.c_str(), &st) == 0) return make_error("create the overlay " + req.overlay + ": it exists already");
  // -F: the base's format is stated, never probed (a raw image could pass for anything).
  std::string output;
  auto status = run_captured({req.qemu_img, "create", "-q", "-f", "qcow2", "-b", req.base, "-F", req.base_format,
                              req.overlay},
                             output);
  if (status && *status == 0) return {};
  unlink(req.overlay.c_str());
  if (!status) return status.error().context("create the overlay " + req.overlay + " (is qemu-utils installed?)");
  while (!output.empty() && output.back() == '\n') output.pop_back();
  return make_error("create the overlay " + req.overlay + " on " + req.base + ": qemu-img failed with status " +
                    std::to_string(*status) + ": " + output);
}

}  // namespace smartvm::launcher
