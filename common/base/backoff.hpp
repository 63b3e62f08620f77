// Retry spacing after failures: the first wait, then doubling up to a cap; a success starts over.
#pragma once

#include <algorithm>

namespace smartvm {

template <class Duration>
class Backoff {
 public:
  Backoff(Duration first, Duration cap) : first_(first), cap_(cap) {}

  // The wait before the next attempt, after one more failure.
  Duration failed() {
    current_ = current_ == Duration::zero() ? first_ : std::min(current_ * 2, cap_);
    return current_;
  }
  void succeeded() { current_ = Duration::zero(); }
  // Zero when the last attempt succeeded (or none failed yet).
  Duration current() const { return current_; }

 private:
  Duration first_, cap_, current_{};
};

}  // namespace smartvm
