// Header-only: see include/CVectorMath.h.
