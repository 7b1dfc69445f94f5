"""One function per operation: typed in, AWS-shaped result out."""
