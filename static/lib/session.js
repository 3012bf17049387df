// The signed-in person (`me`: user, org, role) and the page's one chat socket, for every page that needs them.
import { createContext, useContext } from "./html.js";

export const Session = createContext(null);
export const useSession = () => useContext(Session);

const RANK = { student: 0, teacher: 1, admin: 2 };
export const atLeast = (role, min) => RANK[role] >= RANK[min];
