// The reports' chart: echarts (bars and a line), loaded only when the reports screen opens (its own chunk).
import * as echarts from "echarts/core";
import { BarChart, LineChart } from "echarts/charts";
import { GridComponent, LegendComponent, TooltipComponent } from "echarts/components";
import { CanvasRenderer } from "echarts/renderers";

echarts.use([BarChart, LineChart, GridComponent, LegendComponent, TooltipComponent, CanvasRenderer]);

/** Draw ``spec`` ({x, bars: [{name, data}], line?: {name, data, percent}}) into ``dom``; returns a disposer. */
export function draw(dom, spec, locale) {
  const chart = echarts.getInstanceByDom(dom) || echarts.init(dom, null, { locale: locale === "en" ? "EN" : "ZH" });
  const series = spec.bars.map((b) => ({ name: b.name, type: "bar", barMaxWidth: 48, data: b.data }));
  const yAxis = [{ type: "value" }];
  if (spec.line) {
    yAxis.push({ type: "value", min: 0, max: spec.line.percent ? 1 : undefined,
      axisLabel: { formatter: spec.line.percent ? (v) => `${Math.round(v * 100)}%` : undefined } });
    series.push({ name: spec.line.name, type: "line", yAxisIndex: 1, data: spec.line.data });
  }
  chart.setOption({
    animation: false,
    tooltip: { trigger: "axis" },
    legend: { top: 0 },
    grid: { left: 48, right: 56, top: 36, bottom: 28 },
    xAxis: { type: "category", data: spec.x },
    yAxis,
    series,
  }, true);
  return () => chart.dispose();
}
