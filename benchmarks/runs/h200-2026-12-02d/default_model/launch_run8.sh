# Carry: work_default/gpu/{launch_run8.sh,run8_device.sh} work_default/run5/work/{bank,vae,teacher}
#        .safetensors work_default/run5/work/record.json
mkdir -p /tmp/w && rm -rf /tmp/repo && cp -r . /tmp/repo; cd /tmp/repo
setsid nohup bash -c "bash work_default/gpu/run8_device.sh > /tmp/w/log 2>&1; echo EXIT \$? >> /tmp/w/log" > /dev/null 2>&1 < /dev/null &
