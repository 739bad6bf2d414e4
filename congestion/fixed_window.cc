// FixedWindow is header-only; this unit anchors the target so later
// algorithms (DCQCN, Swift, ...) join it as files beside this one.
#include "congestion/fixed_window.h"
