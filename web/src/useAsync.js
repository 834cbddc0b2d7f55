// Loads data with an async function and tracks loading / error, for every page that fetches.
import { useCallback, useEffect, useState } from 'react';

/**
 * Runs load() now and whenever deps change or reload() is called. Data from the previous load is
 * kept while the next one runs, so lists do not flicker. setData() applies local (live) updates.
 */
export function useAsync(load, deps) {
  const [state, setState] = useState({ loading: true, error: null, data: undefined });
  const [tick, setTick] = useState(0);

  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true, error: null }));
    load().then(
      (data) => live && setState({ loading: false, error: null, data }),
      (error) => live && setState((s) => ({ ...s, loading: false, error })),
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);

  const reload = useCallback(() => setTick((n) => n + 1), []);
  const setData = useCallback(
    (update) => setState((s) => ({ ...s, data: typeof update === 'function' ? update(s.data) : update })),
    [],
  );
  return { ...state, reload, setData };
}
