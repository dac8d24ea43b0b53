// The two React hooks useJobStatus.ts needs, typed as React's own
// declarations type them, so the check runs without installing React.
declare module 'react' {
  type SetStateAction<S> = S | ((previous: S) => S);
  export function useState<S>(initial: S | (() => S)): [S, (action: SetStateAction<S>) => void];
  export function useEffect(effect: () => void | (() => void), deps?: readonly unknown[]): void;
}
