"""Reports over the normalised call model (hourly rollup kept exact by dirty-hour triggers), synthetic history."""
