// A job's disk: a qcow2 overlay whose backing file is the service's golden image, made by
// qemu-img (a few milliseconds whatever the image's size: nothing of the image is copied; the
// guest's writes land in the overlay, the image stays read-only for every job).
#pragma once

#include "error.hpp"

#include <string>

namespace smartvm::launcher {

struct OverlayRequest {
  std::string base;                 // the golden image (absolute)
  std::string base_format = "qcow2";  // qcow2 | raw
  std::string overlay;              // the file to create; must not exist
  std::string qemu_img = "qemu-img";
};

// Creates the overlay; on any error nothing is left at `overlay`, and the error carries
// qemu-img's own words.
Result<void> create_overlay(const OverlayRequest& req);

}  // namespace smartvm::launcher
