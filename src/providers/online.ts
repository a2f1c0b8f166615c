/** Filled in by the online-check split (issue 12). */
export interface OnlineCheck<Surface> {
  describe?(surface: Surface): string;
}
