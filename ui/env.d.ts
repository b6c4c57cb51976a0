// The Tauri globals (`withGlobalTauri`), typed by the generated command and event maps:
// a command name, its arguments and its result, or an event name and its payload, that
// do not match the Rust side fail `tsc -p ui`.
import type { Commands, Events } from "./bindings";

declare global {
  interface Window {
    __TAURI__: {
      core: {
        invoke<K extends keyof Commands>(cmd: K, args?: Commands[K]["args"]): Promise<Commands[K]["ret"]>;
      };
      event: {
        listen<K extends keyof Events>(event: K, handler: (ev: { payload: Events[K] }) => void): Promise<() => void>;
      };
    };
  }
}

export {};
