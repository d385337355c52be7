// Neural-network modules.
// This module is browser compatible.
export { type LoadStateDictOptions, Module } from "./module.ts";
export * from "./layers.ts";
