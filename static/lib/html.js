// Preact with htm: components as tagged templates, no build step.
import { h, render, Fragment } from "../vendor/preact.mjs";
import htm from "../vendor/htm.mjs";

export const html = htm.bind(h);
export { render, Fragment };
export { useState, useEffect, useRef, useMemo, useCallback, useContext } from "../vendor/preact-hooks.mjs";
export { createContext } from "../vendor/preact.mjs";
